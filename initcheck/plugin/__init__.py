"""initcheck's pytest plugin (``pytest11`` entry point ``initcheck = "initcheck.plugin"``).

Loaded in *every* pytest run of every user who installed initcheck, so the plugin imports
only the standard library and pytest: numpy, scipy, Hypothesis, TensorFlow and Jinja2
load on first use. ``pytest -p no:initcheck`` disables the plugin.

What it adds:

- the ``--initcheck-*`` options and the matching ``initcheck_*`` ini settings
  (:mod:`~initcheck.plugin.options`, one frozen :class:`SessionOptions` per session);
- the ``initcheck`` fixture (a :class:`Checker` bound to the session's settings and the
  test's ``@pytest.mark.initcheck(...)``), the session-scoped ``mnist`` fixture and the
  marker (:mod:`~initcheck.plugin.fixtures`);
- the zero-code CI gate (:mod:`initcheck.gate`): ``[tool.initcheck.initializers.NAME]``
  tables and ``--initcheck SPEC`` become test items ``initcheck::NAME::PROPERTY``;
- result transport (:mod:`~initcheck.plugin.item_results`): every
  :class:`~initcheck.results.CheckResult` produced during a test is attached to the test
  report as plain JSON data (``report.initcheck``; a Hypothesis test contributes its final
  example and one aggregated row per check), which pytest-xdist carries to the
  controller; there it feeds the outputs (:mod:`~initcheck.plugin.outputs`): terminal
  summary, ``--initcheck-json``, ``--initcheck-report`` and pytest-html extras.

This module re-exports the hooks and fixtures for pytest to find, and sets
``TF_CPP_MIN_LOG_LEVEL=3`` unless the user set it (:func:`initcheck._tf.prefer_quiet`:
the environment only, no import), so TensorFlow loaded later in the run, by the user's
code or by initcheck, logs no start-up lines.
"""

from __future__ import annotations

from initcheck._tf import prefer_quiet as prefer_quiet
from initcheck.plugin.fixtures import Checker as Checker
from initcheck.plugin.fixtures import initcheck as initcheck
from initcheck.plugin.fixtures import mnist as mnist
from initcheck.plugin.hooks import pytest_addoption as pytest_addoption
from initcheck.plugin.hooks import pytest_collection_modifyitems as pytest_collection_modifyitems
from initcheck.plugin.hooks import pytest_configure as pytest_configure
from initcheck.plugin.hooks import pytest_runtest_call as pytest_runtest_call
from initcheck.plugin.hooks import pytest_runtest_makereport as pytest_runtest_makereport
from initcheck.plugin.hooks import pytest_runtest_setup as pytest_runtest_setup
from initcheck.plugin.hooks import pytest_runtest_teardown as pytest_runtest_teardown
from initcheck.plugin.item_results import REPORT_KEY as REPORT_KEY
from initcheck.plugin.options import SessionOptions as SessionOptions

# Before any user module, test file or gate target can load TensorFlow, whose C++ runtime
# reads TF_CPP_MIN_LOG_LEVEL once: set it (only if the user has not; environment only).
prefer_quiet()
