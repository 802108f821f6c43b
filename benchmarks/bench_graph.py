"""The Graph tab's cost on ResNet50 (177 layers, 16 skip connections): config to graph record,
Graphviz layout, figure; and the photos training task of the Train tab, end to end.

``python -m benchmarks.bench_graph`` from the repository root. Each step is timed once after a
warm-up of plotly's validators (a once-per-process cost the app pays at its first figure).
"""

from __future__ import annotations

import time


def main() -> None:
    import keras

    from kerascope.components.figures.graph import graph_figure, node_values
    from kerascope.extraction.graph import model_graph
    from kerascope.extraction.graph_layout import layout_graph
    from kerascope.extraction.models.training import Knobs, train
    from kerascope.extraction.readers.live import read_live

    model = keras.applications.ResNet50(weights=None)
    config = keras.saving.serialize_keras_object(model)
    records = read_live(model)
    graph_figure(layout_graph(model_graph(config)))  # type: ignore[arg-type]  # warm-up
    rows = []
    started = time.perf_counter()
    graph = model_graph(config)
    rows.append(("graph record from the config", time.perf_counter() - started))
    assert graph is not None
    started = time.perf_counter()
    layout = layout_graph(graph)
    rows.append(("Graphviz dot layout", time.perf_counter() - started))
    started = time.perf_counter()
    graph_figure(layout, values=node_values(records, layout, "params"), log_scale=True)
    rows.append(("figure, coloured by parameters", time.perf_counter() - started))
    rows.append(("ResNet50 graph, total", sum(s for _, s in rows)))
    started = time.perf_counter()
    graph_figure(layout_graph(graph, shapes=True))
    rows.append(("layout and figure, shapes on the arrows", time.perf_counter() - started))
    started = time.perf_counter()
    wrapped = layout_graph(graph, direction="LR", shapes=True, wrap=500)
    graph_figure(wrapped)
    rows.append(
        (f"left to right in {wrapped.rows} rows, with shapes", time.perf_counter() - started)
    )
    started = time.perf_counter()
    train(Knobs(conv_filters=16, kernel_size=7, epochs=8, task="photos"))
    rows.append(
        ("photos task, 8 epochs (data, training, snapshots)", time.perf_counter() - started)
    )
    print(f"ResNet50: {len(graph.nodes)} nodes, {len(graph.edges)} edges")  # noqa: T201
    for what, seconds in rows:
        print(f"{what:<52} {seconds:7.2f} s")  # noqa: T201


if __name__ == "__main__":
    main()
