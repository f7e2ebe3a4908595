"""The performance benchmark: page rerun times, memory per session, concurrent writes.

``python -m bench`` measures the pages in Streamlit's AppTest against a trivial page;
``python -m bench.concurrency`` drives the service layer from many threads at once.
See ``bench/README.md`` for what is measured and the targets.
"""
