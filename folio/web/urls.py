"""The pages of the web UI. A later area (publishing, imports) adds its views module, its
patterns below and a folio.web.nav entry; the layout, the components and the header pick it
up from there."""

from django.urls import path

from folio.web.views import (
    assets,
    brandkit,
    dashboard,
    imports,
    jobs,
    linking,
    product_models,
    products,
    publishing,
    review,
    search,
    shares,
)

app_name = "web"
urlpatterns = [
    path("", dashboard.home, name="home"),
    # products and product models
    path("products/", products.product_grid, name="products"),
    path("products/new/", products.product_create, name="product_create"),
    path("products/new/axes/", products.axis_fields, name="axis_fields"),
    path("products/bulk-edit/", products.bulk_edit_page, name="bulk_edit"),
    path("products/filters/", products.saved_filter_save, name="saved_filter_save"),
    path(
        "products/filters/<int:filter_id>/delete/",
        products.saved_filter_delete,
        name="saved_filter_delete",
    ),
    path("products/<str:sku>/", products.product_detail, name="product"),
    path("products/<str:sku>/restore/", products.product_restore, name="product_restore"),
    path("models/new/", product_models.model_create, name="model_create"),
    path("models/<str:code>/", product_models.model_detail, name="model"),
    path("models/<str:code>/restore/", product_models.model_restore, name="model_restore"),
    # linking on the product and model pages
    path("media/<str:kind>/<str:key>/", linking.media, name="media"),
    path("media/<str:kind>/<str:key>/link/", linking.link_add, name="link_add"),
    path("media/<str:kind>/<str:key>/clear/", linking.link_clear, name="link_clear"),
    path("media/<str:kind>/<str:key>/picker/", linking.link_picker, name="link_picker"),
    path("links/<int:link_id>/move/", linking.link_move, name="link_move"),
    path("links/<int:link_id>/remove/", linking.link_remove, name="link_remove"),
    # assets
    path("assets/", assets.library, name="assets"),
    path("assets/<int:asset_id>/", assets.asset_detail, name="asset"),
    path("assets/<int:asset_id>/preview/", assets.preview_panel, name="asset_preview"),
    path("assets/<int:asset_id>/decide/", assets.decide, name="asset_decide"),
    path("assets/<int:asset_id>/versions/", assets.add_version, name="asset_add_version"),
    path(
        "assets/<int:asset_id>/versions/<int:number>/restore/",
        assets.restore_version,
        name="asset_restore_version",
    ),
    path("assets/<int:asset_id>/renditions/", assets.renditions, name="asset_renditions"),
    # SKU search, SKU 360, compare, review
    path("sku/", search.sku_search, name="sku_search"),
    path("sku/<str:sku>/", search.sku360_page, name="sku360"),
    path("compare/", search.compare_page, name="compare"),
    path("review/", review.review_index, name="review_index"),
    path("review/<str:sku>/", review.review_page, name="review"),
    # brand kits and share links
    path("brand-kits/", brandkit.kits, name="brand_kits"),
    path("brand-kits/<slug:code>/", brandkit.kit, name="brand_kit"),
    path("shares/", shares.share_links, name="shares"),
    path("shares/<int:link_id>/revoke/", shares.revoke, name="share_revoke"),
    # publishing: channels and feeds, runs, publications with their report
    path("publishing/", publishing.channels, name="publishing"),
    path("publishing/<str:channel>/<str:feed>/", publishing.feed_page, name="feed"),
    path("publishing/<str:channel>/<str:feed>/run/", publishing.feed_run, name="feed_run"),
    path("publications/<int:publication_id>/", publishing.publication_page, name="publication"),
    path(
        "publications/<int:publication_id>/watch/",
        publishing.publication_watch,
        name="publication_watch",
    ),
    # imports: runs with the upload form, one run with its report, saved column mappings
    path("imports/", imports.imports, name="imports"),
    path("imports/mappings/", imports.mappings, name="import_mappings"),
    path("imports/mappings/new/", imports.mapping_new, name="import_mapping_new"),
    path("imports/<int:run_id>/", imports.import_run, name="import_run"),
    path("imports/<int:run_id>/watch/", imports.import_watch, name="import_watch"),
    path("imports/<int:run_id>/run/", imports.import_run_for_real, name="import_run_for_real"),
    # shared components
    path("jobs/<uuid:job_id>/progress/", jobs.job_progress, name="job_progress"),
]
