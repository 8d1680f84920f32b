"""Command-line tools around the course: benchmarks (``python -m course_lib.tools.bench``, ``bench_rnn``,
``bench_roi``, ``bench_crf``), the claims report, notebook execution, pretraining, the student edition and the
book. Library functions live in the layers below (the model summary: :func:`course_lib.viz.summary`)."""
