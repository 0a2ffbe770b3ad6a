"""Insurance verification before each session (issue 8): 270 questions for upcoming appointments, 271 answers,
and the sessions at risk. docs/eligibility.md describes it; the X12 layer is :mod:`claimbridge.x12.eligibility`.
"""
