"""Reports: the documents generated from conformance runs, each made by ``refdropout report NAME``.

One module per document, each declaring its :class:`~refdropout.reports.command.Report` (its options
and how it writes the document); refdropout.reports.command runs them all the same way, and
refdropout.reports.document holds what the documents share (one-line details, the paragraph saying
how a document was made). This package's own module imports nothing, so that the command line can
list the reports without loading the conformance suite.
"""

# the reports `refdropout report` makes: name, what it is and where it is published
REPORTS = {
    "matrix": "the conformance matrix: every clause against every target (docs/conformance-matrix.md)",
    "detection": "the detection matrix: every clause against every mutant of the catalogue (docs/detection-matrix.md)",
    "sweep": "the seed sweep: correct implementations under many master seeds (docs/seed-sweep.md)",
    "sensitivity": "the measured power of the keep-rate decision of DROPOUT-16 (docs/sensitivity.md)",
    "site": "the spec as a static HTML site: chapters, clauses, checks, tests, verdicts, frameworks (site/)",
}
