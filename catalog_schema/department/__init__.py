"""Departments (政务部门): providers and consumers of shared data."""
