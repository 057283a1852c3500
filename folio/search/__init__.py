"""Full-text search over products, product models and (later) assets: see folio.search.index."""
