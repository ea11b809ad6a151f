"""Autograder templates copied into every kit's ``grader/`` folder (never imported by the library).

kit_conftest.py becomes grader/conftest.py (per-part scores, results.json, the score table);
run.py runs the grader; grade_<assignment>.py becomes grader/test_<assignment>.py.
"""
