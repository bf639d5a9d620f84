#!/usr/bin/env python3
"""Checks a report file with the format's reference parser and prints what it counted.

    validate-report.py kcidb FILE   KernelCI's kcidb-io: the KCIDB v5.3 schema, exactly
    validate-report.py junit FILE   junitparser: suites, cases and their results
    validate-report.py ktap FILE    the kernel's KTAP parser (tools/testing/kunit/kunit_parser.py)

Prints one line, "tests=N pass=N fail=N error=N skip=N" (kcidb: one count per status), and exits
0; a file the parser rejects exits 1 with the parser's message. Run with the virtualenv and the
kunit directory that scripts/install-deps.sh makes under .cache.
"""
import collections
import json
import os
import sys

CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache")


def kcidb(path):
    import kcidb_io
    with open(path) as file:
        data = json.load(file)
    kcidb_io.schema.V5_3.validate_exactly(data)
    statuses = collections.Counter(test["status"] for test in data["tests"])
    counts = " ".join(f"{status}={count}" for status, count in sorted(statuses.items()))
    return f"tests={len(data['tests'])} {counts} issues={len(data['issues'])} incidents={len(data['incidents'])}"


def junit(path):
    from junitparser import JUnitXml, Failure, Error, Skipped
    xml = JUnitXml.fromfile(path)
    counts = collections.Counter()
    for suite in xml:
        for case in suite:
            kinds = {type(result) for result in case.result}
            counts["fail" if Failure in kinds else "error" if Error in kinds else "skip" if Skipped in kinds else "pass"] += 1
    return f"tests={sum(counts.values())} pass={counts['pass']} fail={counts['fail']} error={counts['error']} skip={counts['skip']}"


def ktap(path):
    sys.path.insert(0, os.path.join(CACHE, "kunit"))
    import kunit_parser
    with open(path) as file, open(os.devnull, "w") as quiet:
        kunit_parser.stdout._output = quiet  # its per-test lines; the counts are what is checked
        test = kunit_parser.parse_run_tests(file.readlines())
    counts = test.counts
    if counts.errors or test.status == kunit_parser.TestStatus.FAILURE_TO_PARSE_TESTS:
        raise ValueError(f"the KTAP parser found {counts.errors} errors: {test.log[-5:]}")
    total = counts.passed + counts.failed + counts.crashed + counts.skipped
    return f"tests={total} pass={counts.passed} fail={counts.failed} error={counts.crashed} skip={counts.skipped}"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("kcidb", "junit", "ktap"):
        sys.exit(__doc__)
    try:
        print(globals()[sys.argv[1]](sys.argv[2]))
    except Exception as error:  # the parser's own message is the point
        print(f"{sys.argv[1]}: {sys.argv[2]}: {type(error).__name__}: {str(error)[:2000]}", file=sys.stderr)
        sys.exit(1)
