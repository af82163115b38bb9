"""The conversation test set (issue 12): customers' conversations as data, one YAML file per area.

`runner.py` loads them, plays them through the real stack and judges each one's outcome; the e2e
test (tests/e2e/test_conversations.py) and the benchmark (bench/conversations.py) both use it.
"""
