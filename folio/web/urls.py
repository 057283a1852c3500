"""The pages of the web UI. A later area (publishing, imports) adds its views module, its
patterns below and a folio.web.nav entry; the layout, the components and the header pick it
up from there."""

from django.urls import path

from folio.web.views import (
    asset_settings,
    assets,
    audit,
    brandkit,
    dashboard,
    imports,
    jobs,
    linking,
    media_settings,
    people,
    product_models,
    products,
    publishing,
    review,
    search,
    shares,
    structure,
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
    path(
        "publishing/<str:channel>/<str:feed>/schedule/",
        publishing.feed_schedule,
        name="feed_schedule",
    ),
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
    path("imports/mappings/<int:mapping_id>/", imports.mapping_edit, name="import_mapping"),
    path(
        "imports/mappings/<int:mapping_id>/delete/",
        imports.mapping_delete,
        name="import_mapping_delete",
    ),
    path("imports/<int:run_id>/", imports.import_run, name="import_run"),
    path("imports/<int:run_id>/watch/", imports.import_watch, name="import_watch"),
    path("imports/<int:run_id>/run/", imports.import_run_for_real, name="import_run_for_real"),
    # people and access: users (administrators), my account with its API tokens, the audit log
    path("people/", people.users, name="people"),
    path("people/new/", people.user_create, name="person_create"),
    path("people/users/<str:username>/", people.person, name="person"),
    path("people/users/<str:username>/roles/", people.person_roles, name="person_roles"),
    path("people/users/<str:username>/access/", people.person_active, name="person_active"),
    path("people/users/<str:username>/password/", people.person_password, name="person_password"),
    path("people/users/<str:username>/scope/", people.person_scope, name="person_scope"),
    path("account/", people.account, name="account"),
    path("account/password/", people.password_change, name="password_change"),
    path("account/tokens/", people.token_create, name="token_create"),
    path("account/tokens/<int:token_id>/revoke/", people.token_revoke, name="token_revoke"),
    path("audit/", audit.audit_log, name="audit"),
    # catalog structure: attributes and options, groups, families, variants, categories,
    # channels, locales and currencies ("new" pages sit apart: "new" is a valid code)
    path("structure/", structure.index, name="structure"),
    path("structure/attributes/", structure.attributes, name="structure_attributes"),
    path("structure/new/attribute/", structure.attribute_create, name="structure_attribute_new"),
    path(
        "structure/attributes/<str:code>/", structure.attribute_detail, name="structure_attribute"
    ),
    path(
        "structure/attributes/<str:code>/options/<str:option>/",
        structure.option_detail,
        name="structure_option",
    ),
    path("structure/attribute-groups/", structure.groups, name="structure_groups"),
    path("structure/attribute-groups/<str:code>/", structure.group_detail, name="structure_group"),
    path("structure/families/", structure.families, name="structure_families"),
    path("structure/new/family/", structure.family_create, name="structure_family_new"),
    path("structure/families/<str:code>/", structure.family_detail, name="structure_family"),
    path("structure/family-variants/", structure.variants, name="structure_variants"),
    path("structure/new/family-variant/", structure.variant_create, name="structure_variant_new"),
    path(
        "structure/family-variants/<str:code>/", structure.variant_detail, name="structure_variant"
    ),
    path("structure/categories/", structure.categories, name="structure_categories"),
    path("structure/categories/<str:code>/", structure.category_detail, name="structure_category"),
    path("structure/channels/", structure.channels, name="structure_channels"),
    path("structure/new/channel/", structure.channel_create, name="structure_channel_new"),
    path("structure/channels/<str:code>/", structure.channel_detail, name="structure_channel"),
    path("structure/locales/", structure.locales, name="structure_locales"),
    # asset settings: collections, tags, custom fields, approval workflows
    path("asset-settings/", asset_settings.index, name="asset_settings"),
    path("asset-settings/collections/", asset_settings.collections, name="asset_collections"),
    path(
        "asset-settings/collections/<str:code>/",
        asset_settings.collection_detail,
        name="asset_collection",
    ),
    path("asset-settings/tags/", asset_settings.tags, name="asset_tags"),
    path("asset-settings/fields/", asset_settings.fields, name="asset_fields"),
    path("asset-settings/fields/<str:code>/", asset_settings.field_detail, name="asset_field"),
    path("asset-settings/workflows/", asset_settings.workflows, name="asset_workflows"),
    path(
        "asset-settings/workflows/<str:code>/",
        asset_settings.workflow_detail,
        name="asset_workflow",
    ),
    # media and integrations: rendition presets, channels' image slots, webhooks, other DAMs
    path("media-settings/", media_settings.index, name="media_settings"),
    path("media-settings/presets/", media_settings.preset_list, name="media_presets"),
    path("media-settings/new/preset/", media_settings.preset_create, name="media_preset_new"),
    path("media-settings/presets/<str:code>/", media_settings.preset_detail, name="media_preset"),
    path("media-settings/image-slots/", media_settings.slot_channels, name="media_slot_channels"),
    path(
        "media-settings/image-slots/<str:code>/",
        media_settings.channel_slots,
        name="media_channel_slots",
    ),
    path("media-settings/webhooks/", media_settings.webhook_list, name="media_webhooks"),
    path(
        "media-settings/webhooks/<int:webhook_id>/",
        media_settings.webhook_detail,
        name="media_webhook",
    ),
    path("media-settings/external-dams/", media_settings.external_systems, name="media_external"),
    # shared components
    path("jobs/<uuid:job_id>/progress/", jobs.job_progress, name="job_progress"),
]
