"""Reports: the documents generated from conformance runs (spec/stats.md, docs/)."""
