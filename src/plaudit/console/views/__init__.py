"""Console views: one module per page; each answers a whole page or an htmx partial."""
