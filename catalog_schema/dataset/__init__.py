"""Resource datasets (库表交换): providers' own tables collected by the pipelines, versioned."""
