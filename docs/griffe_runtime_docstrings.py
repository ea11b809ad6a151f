"""A griffe extension for the API pages (mkdocs.yml): a module attribute whose value is made by a call, such as
``sum = _reduction(Sum, "sum")`` in minidense/ops/reduce.py, gets the docstring its value has at run time, which
reading the source alone cannot see."""
import importlib
import inspect

import griffe


class RuntimeDocstrings(griffe.Extension):
    def on_attribute_instance(self, *, attr, **kwargs):
        if attr.docstring is not None or not attr.parent.is_module:
            return
        try:
            value = getattr(importlib.import_module(attr.parent.path), attr.name)
        except (ImportError, AttributeError):
            return
        doc = inspect.getdoc(value) if callable(value) and not inspect.isclass(value) else None
        if doc:
            attr.docstring = griffe.Docstring(doc, parent=attr)
