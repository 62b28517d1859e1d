"""Data elements (数据元) and the one-data-one-source registry (一数一源、多源校核)."""
