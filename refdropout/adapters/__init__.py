"""Adapters: implementations of dropout under test, each in a module of its own."""
