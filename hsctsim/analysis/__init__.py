"""Estimators, endpoints and figures over simulated cohorts.
"""
