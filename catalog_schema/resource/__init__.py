"""Catalog resources (政务信息资源) with the 1272号 core metadata, items and versions."""
