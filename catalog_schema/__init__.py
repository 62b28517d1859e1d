"""The platform database: models, migrations, and the catalog and registry services."""
