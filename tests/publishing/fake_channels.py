"""Local stand-ins for the channels' APIs, answering with their documented shapes.

Shopify Admin GraphQL API (POST /admin/api/{version}/graphql.json, header
X-Shopify-Access-Token): `productSet(identifier:, input:, synchronous:)` upserting by handle,
`productByIdentifier(identifier:)`, `productDelete(input: {id})`; answers
`{"data": …, "extensions": {"cost": {requestedQueryCost, actualQueryCost, throttleStatus:
{maximumAvailable, currentlyAvailable, restoreRate}}}}`, userErrors `{code, field, message}`,
and when throttled `{"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
"extensions": {"cost": …}}` with no data.

Amazon Login with Amazon (POST /auth/o2/token, form grant_type=refresh_token, refresh_token,
client_id, client_secret → {access_token, token_type: "bearer", expires_in}) and the Selling
Partner API Listings Items 2021-08-01 (PUT/PATCH/DELETE
/listings/2021-08-01/items/{sellerId}/{sku}?marketplaceIds=…, header x-amz-access-token) →
`{sku, status: ACCEPTED|INVALID, submissionId, issues: [{code, message, severity,
attributeNames}]}`; errors `{"errors": [{code, message, details}]}`; throttling: 429 with
`x-amzn-RateLimit-Limit`.

Neither parses GraphQL or checks product-type schemas: they check what the documentation
makes a client responsible for (operation, variables' shape, headers, paths) and keep enough
state (products by handle, listings by SKU) for create → update → delete flows. Scripted
answers (`throttle`, `fail`, `reject`) come before normal handling, in order.
"""

import itertools
import json
import re
import threading
import uuid
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


class FakeServer:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # {"method", "path", "query", "headers", "body", "json"}
        self.scripted: list[dict] = []  # answers to give before normal handling
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def answer(self, request: dict) -> tuple[int, dict, bytes]:
        raise NotImplementedError

    def _serve(self, request: dict) -> tuple[int, dict, bytes]:
        with self.lock:
            self.requests.append(request)
            if self.scripted and self.scripted[0]["matches"](request):
                return self.scripted.pop(0)["answer"](request)
            return self.answer(request)

    def script(self, answer, matches=lambda request: True):
        with self.lock:
            self.scripted.append({"answer": answer, "matches": matches})


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer

    def log_message(self, *args):  # keep test output quiet
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = {
            "method": self.command,
            "path": parts.path,
            "query": parse_qs(parts.query),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "json": parsed,
        }
        status, headers, payload = self.fake._serve(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def _json(status: int, data, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(data).encode(),
    )


# ---------------------------------------------------------------------------------------------
# Shopify


class FakeShopify(FakeServer):
    MAXIMUM_AVAILABLE = 2000.0
    RESTORE_RATE = 100.0

    def __init__(self, token: str = "shpat_test_token", version: str = "2025-10"):
        super().__init__()
        self.token = token
        self.version = version
        self.products: dict[str, dict] = {}  # handle → product
        self.rejections: dict[str, list[dict]] = {}  # handle → userErrors for productSet
        self.ids = itertools.count(1001)
        self.available = self.MAXIMUM_AVAILABLE

    # scripted answers ------------------------------------------------------------------------

    def throttle(
        self,
        times: int = 1,
        *,
        requested: float = 12.0,
        available: float = 11.5,
        restore_rate: float = 1000.0,
    ):
        """Answer the next GraphQL calls THROTTLED, as the bucket's state would say."""
        for _ in range(times):
            self.script(
                lambda request: _json(
                    200,
                    {
                        "errors": [
                            {
                                "message": "Throttled",
                                "extensions": {
                                    "code": "THROTTLED",
                                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                                },
                            }
                        ],
                        "extensions": {
                            "cost": {
                                "requestedQueryCost": requested,
                                "actualQueryCost": None,
                                "throttleStatus": {
                                    "maximumAvailable": self.MAXIMUM_AVAILABLE,
                                    "currentlyAvailable": available,
                                    "restoreRate": restore_rate,
                                },
                            }
                        },
                    },
                )
            )

    def fail(self, times: int = 1, *, status: int = 503, retry_after: str | None = "0"):
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self.script(
                lambda request: _json(
                    status,
                    {
                        "errors": "Service Unavailable"
                        if status >= 500
                        else "Exceeded 2 calls per second for api client. Reduce request rates "
                        "to resume uninterrupted service."
                    },
                    headers,
                )
            )

    def reject(
        self,
        handle: str,
        message: str,
        *,
        field=("input", "variants", "0", "price"),
        code: str = "INVALID",
    ):
        self.rejections.setdefault(handle, []).append(
            {"code": code, "field": list(field), "message": message}
        )

    # requests seen ---------------------------------------------------------------------------

    def graphql_calls(self, operation: str | None = None) -> list[dict]:
        calls = [
            r["json"]
            for r in self.requests
            if r["path"].endswith("/graphql.json") and isinstance(r["json"], dict)
        ]
        if operation:
            calls = [c for c in calls if _root_field(c.get("query", "")) == operation]
        return calls

    # answering -------------------------------------------------------------------------------

    def answer(self, request):
        if request["path"] != f"/admin/api/{self.version}/graphql.json":
            return _json(404, {"errors": "Not Found"})
        if request["method"] != "POST":
            return _json(405, {"errors": "Method Not Allowed"})
        if request["headers"].get("x-shopify-access-token") != self.token:
            return _json(
                401,
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
            )
        if not request["headers"].get("content-type", "").startswith("application/json"):
            return _json(415, {"errors": "Unsupported Media Type"})
        body = request["json"]
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _json(400, {"errors": {"query": "Required parameter missing or invalid"}})
        variables = body.get("variables") or {}
        field = _root_field(body["query"])
        handler = {
            "productSet": self._product_set,
            "productByIdentifier": self._product_by_identifier,
            "productDelete": self._product_delete,
        }.get(field)
        if handler is None:
            return _json(
                200,
                {
                    "errors": [
                        {
                            "message": f"Field '{field}' doesn't exist on type 'Mutation'",
                            "extensions": {"code": "undefinedField"},
                        }
                    ]
                },
            )
        try:
            data, cost = handler(variables)
        except _GraphQLError as exc:
            return _json(
                200, {"errors": [{"message": str(exc), "extensions": {"code": "INVALID_VARIABLE"}}]}
            )
        return _json(
            200,
            {
                "data": data,
                "extensions": {
                    "cost": {
                        "requestedQueryCost": cost,
                        "actualQueryCost": cost,
                        "throttleStatus": {
                            "maximumAvailable": self.MAXIMUM_AVAILABLE,
                            "currentlyAvailable": self.MAXIMUM_AVAILABLE - cost,
                            "restoreRate": self.RESTORE_RATE,
                        },
                    }
                },
            },
        )

    def _product_set(self, variables):
        data = variables.get("input")
        if not isinstance(data, dict):
            raise _GraphQLError(
                "Variable $input of type ProductSetInput! was provided invalid value"
            )
        identifier = variables.get("identifier") or {}
        handle = identifier.get("handle") or data.get("handle")
        if identifier.get("id"):
            handle = next(
                (h for h, p in self.products.items() if p["id"] == identifier["id"]), None
            )
            if handle is None:
                return self._set_errors(
                    [
                        {
                            "code": "PRODUCT_DOES_NOT_EXIST",
                            "field": ["id"],
                            "message": "Product does not exist",
                        }
                    ]
                )
        errors = list(self.rejections.get(handle, [])) + _check_product_set(
            data, creating=handle not in self.products
        )
        if errors:
            return self._set_errors(errors)
        product = self.products.get(handle) or {
            "id": f"gid://shopify/Product/{next(self.ids)}",
            "handle": handle,
            "variants": [],
        }
        old_variants = {v["sku"]: v for v in product["variants"]}
        # List fields are replaced as a whole (what is missing is deleted), other fields are
        # updated only when given: the documented productSet semantics.
        for key in ("title", "descriptionHtml", "vendor", "productType", "tags", "status"):
            if key in data:
                product[key] = data[key]
        product["options"] = data.get("productOptions", product.get("options", []))
        product["files"] = data.get("files", product.get("files", []))
        product["variants"] = [
            {
                **v,
                "id": (old_variants.get(v.get("sku")) or {}).get("id")
                or f"gid://shopify/ProductVariant/{next(self.ids)}",
            }
            for v in data.get("variants", [])
        ]
        self.products[handle] = product
        cost = 10 + len(product["variants"]) + len(product["files"])
        return {
            "productSet": {
                "product": {
                    "id": product["id"],
                    "handle": handle,
                    "variants": {
                        "nodes": [{"id": v["id"], "sku": v.get("sku")} for v in product["variants"]]
                    },
                },
                "productSetOperation": None,
                "userErrors": [],
            }
        }, cost

    def _set_errors(self, errors):
        return {
            "productSet": {"product": None, "productSetOperation": None, "userErrors": errors}
        }, 10

    def _product_by_identifier(self, variables):
        identifier = variables.get("identifier")
        if not isinstance(identifier, dict) or not (
            identifier.get("handle") or identifier.get("id")
        ):
            raise _GraphQLError(
                "Variable $identifier of type ProductIdentifierInput! was provided invalid value"
            )
        product = self.products.get(identifier.get("handle"))
        if identifier.get("id"):
            product = next((p for p in self.products.values() if p["id"] == identifier["id"]), None)
        node = {"id": product["id"], "handle": product["handle"]} if product else None
        return {"productByIdentifier": node}, 1

    def _product_delete(self, variables):
        data = variables.get("input")
        if not isinstance(data, dict) or not data.get("id"):
            raise _GraphQLError(
                "Variable $input of type ProductDeleteInput! was provided "
                "invalid value for id (Expected value to not be null)"
            )
        handle = next((h for h, p in self.products.items() if p["id"] == data["id"]), None)
        if handle is None:
            return {
                "productDelete": {
                    "deletedProductId": None,
                    "userErrors": [{"field": ["id"], "message": "Product does not exist"}],
                }
            }, 10
        del self.products[handle]
        return {"productDelete": {"deletedProductId": data["id"], "userErrors": []}}, 10


class _GraphQLError(Exception):
    pass


def _root_field(query: str) -> str | None:
    """The first field selected by the operation: enough to tell the three calls apart."""
    match = re.search(r"\{\s*(\w+)", query)
    return match.group(1) if match else None


def _check_product_set(data: dict, *, creating: bool) -> list[dict]:
    """The productSet input rules the documentation states for options, variants and files."""
    errors = []

    def error(field, message, code="INVALID"):
        errors.append({"code": code, "field": ["input", *field], "message": message})

    if creating and not (data.get("title") or "").strip():
        error(["title"], "Title can't be blank", "BLANK")
    options = data.get("productOptions")
    variants = data.get("variants")
    if variants is not None and options is None:
        error(
            ["productOptions"],
            "Product options input is required when updating variants",
            "PRODUCT_OPTIONS_INPUT_MISSING",
        )
        return errors
    options = options or []
    if len(options) > 3:
        error(["productOptions"], "Can only specify a maximum of 3 options", "OPTIONS_OVER_LIMIT")
    names = {}
    for i, option in enumerate(options):
        values = [v.get("name") for v in option.get("values") or []]
        if not option.get("name") or not values:
            error(["productOptions", str(i)], "Option name and values are required")
        names[option.get("name")] = set(values)
    sources = {f.get("originalSource") for f in data.get("files") or []}
    for f_index, file in enumerate(data.get("files") or []):
        if not file.get("originalSource") and not file.get("id"):
            error(["files", str(f_index)], "Either id or originalSource must be provided")
    seen = set()
    for i, variant in enumerate(variants or []):
        where = ["variants", str(i)]
        values = variant.get("optionValues")
        if not values:
            error([*where, "optionValues"], "Option values are required")
            continue
        combo = []
        for value in values:
            name = value.get("optionName")
            if name not in names:
                error([*where, "optionValues"], f"Option '{name}' does not exist")
            elif value.get("name") not in names[name]:
                error(
                    [*where, "optionValues"],
                    f"Option value '{value.get('name')}' does not exist on option '{name}'",
                )
            combo.append((name, value.get("name")))
        if len(combo) != len(names):
            error([*where, "optionValues"], "Variant must have a value for every option")
        if tuple(sorted(combo)) in seen:
            error([*where], "The variant already exists", "DUPLICATE")
        seen.add(tuple(sorted(combo)))
        if "price" in variant:
            try:
                Decimal(str(variant["price"]))
            except InvalidOperation:
                error([*where, "price"], "Price is invalid")
        file = variant.get("file")
        if file and file.get("originalSource") not in sources:
            error([*where, "file"], "Variant file must also be specified in the product's files")
    return errors


# ---------------------------------------------------------------------------------------------
# Amazon


LISTINGS_PATH = re.compile(r"^/listings/2021-08-01/items/(?P<seller>[^/]+)/(?P<sku>[^/]+)$")
PATCH_OPS = {"add", "replace", "merge", "delete"}


class FakeAmazon(FakeServer):
    """Login with Amazon at /auth/o2/token and the Listings Items API under /listings/."""

    RATE = "5.0"

    def __init__(
        self,
        *,
        client_id="amzn1.application-oa2-client.test",
        client_secret="amzn-client-secret-test",
        refresh_token="Atzr|refresh-test",
        seller_id="A1SELLERTEST",
        marketplace_id="ATVPDKIKX0DER",
        expires_in=3600,
    ):
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.seller_id = seller_id
        self.marketplace_id = marketplace_id
        self.expires_in = expires_in
        self.tokens: set[str] = set()
        self.listings: dict[str, dict] = {}  # sku → {"productType", "attributes"}
        self.invalid: dict[str, list[dict]] = {}  # sku → issues to answer INVALID with

    # scripted answers ------------------------------------------------------------------------

    def throttle(self, times: int = 1, *, rate: str = RATE):
        """Answer the next listings calls 429, with the usage plan's rate in
        x-amzn-RateLimit-Limit."""
        for _ in range(times):
            self.script(
                lambda request: _json(
                    429,
                    {
                        "errors": [
                            {
                                "code": "QuotaExceeded",
                                "message": "You exceeded your quota for the requested resource.",
                                "details": "",
                            }
                        ]
                    },
                    {**self._headers(), "x-amzn-RateLimit-Limit": rate},
                ),
                matches=_is_listings,
            )

    def reject(self, sku: str, message: str, *, code: str = "90220", attribute: str = "item_name"):
        self.invalid.setdefault(sku, []).append(
            {"code": code, "message": message, "severity": "ERROR", "attributeNames": [attribute]}
        )

    # requests seen ---------------------------------------------------------------------------

    def token_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/auth/o2/token"]

    def listings_requests(self) -> list[dict]:
        return [r for r in self.requests if _is_listings(r)]

    # answering -------------------------------------------------------------------------------

    def _headers(self):
        return {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-RateLimit-Limit": self.RATE}

    def answer(self, request):
        if request["path"] == "/auth/o2/token":
            return self._token(request)
        match = LISTINGS_PATH.match(request["path"])
        if not match:
            return _json(
                404,
                {"errors": [{"code": "NotFound", "message": "Resource not found", "details": ""}]},
                self._headers(),
            )
        if request["headers"].get("x-amz-access-token") not in self.tokens:
            return _json(
                403,
                {
                    "errors": [
                        {
                            "code": "Unauthorized",
                            "message": "Access to requested resource is denied.",
                            "details": "The access token you provided is "
                            "revoked, malformed or invalid.",
                        }
                    ]
                },
                self._headers(),
            )
        seller, sku = unquote(match["seller"]), unquote(match["sku"])
        marketplaces = request["query"].get("marketplaceIds") or []
        problems = []
        if seller != self.seller_id:
            problems.append(f"sellerId {seller!r} is not the authorised selling partner")
        if marketplaces != [self.marketplace_id]:
            problems.append(f"marketplaceIds {marketplaces!r} is invalid")
        handler = {"PUT": self._put, "PATCH": self._patch, "DELETE": self._delete}.get(
            request["method"]
        )
        if handler is None:
            return _json(
                405,
                {
                    "errors": [
                        {"code": "MethodNotAllowed", "message": request["method"], "details": ""}
                    ]
                },
                self._headers(),
            )
        if request["method"] != "DELETE":
            if request["headers"].get("content-type", "").split(";")[0] != "application/json":
                return _json(
                    415,
                    {
                        "errors": [
                            {
                                "code": "UnsupportedMediaType",
                                "message": "Content-Type must be application/json",
                                "details": "",
                            }
                        ]
                    },
                    self._headers(),
                )
            validate = _validate_put if request["method"] == "PUT" else _validate_patch
            problems += validate(request["json"])
        if problems:
            return _json(
                400,
                {
                    "errors": [
                        {"code": "InvalidInput", "message": p, "details": ""} for p in problems
                    ]
                },
                self._headers(),
            )
        issues = self.invalid.get(sku)
        if issues:
            return _json(
                200,
                {
                    "sku": sku,
                    "status": "INVALID",
                    "submissionId": uuid.uuid4().hex,
                    "issues": issues,
                },
                self._headers(),
            )
        issues = handler(sku, request["json"])
        status = "INVALID" if any(i["severity"] == "ERROR" for i in issues) else "ACCEPTED"
        return _json(
            200,
            {"sku": sku, "status": status, "submissionId": uuid.uuid4().hex, "issues": issues},
            self._headers(),
        )

    def _token(self, request):
        if request["method"] != "POST":
            return _json(405, {"error": "invalid_request"})
        form = {k: v[0] for k, v in parse_qs(request["body"].decode()).items()}
        if form.get("grant_type") != "refresh_token":
            return _json(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "The grant type is not supported",
                },
            )
        if form.get("client_id") != self.client_id or (
            form.get("client_secret") != self.client_secret
        ):
            return _json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        if form.get("refresh_token") != self.refresh_token:
            return _json(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant "
                    "parameter : refresh_token",
                },
            )
        token = f"Atza|{uuid.uuid4().hex}"
        self.tokens.add(token)
        return _json(
            200,
            {
                "access_token": token,
                "refresh_token": self.refresh_token,
                "token_type": "bearer",
                "expires_in": self.expires_in,
            },
        )

    def _put(self, sku, body):
        self.listings[sku] = {"productType": body["productType"], "attributes": body["attributes"]}
        return []

    def _patch(self, sku, body):
        listing = self.listings.get(sku)
        if listing is None:
            return [
                {
                    "code": "4000001",
                    "message": f"The SKU {sku} does not exist; a PATCH needs an existing listing.",
                    "severity": "ERROR",
                    "attributeNames": [],
                }
            ]
        for patch in body["patches"]:
            name = patch["path"].split("/")[2]
            if patch["op"] == "delete":
                listing["attributes"].pop(name, None)
            else:
                listing["attributes"][name] = patch["value"]
        return []

    def _delete(self, sku, body):
        self.listings.pop(sku, None)
        return []


def _validate_put(body):
    problems = []
    if not isinstance(body, dict):
        return ["The request body must be a JSON object"]
    if not isinstance(body.get("productType"), str) or not body["productType"]:
        problems.append("productType is required")
    if body.get("requirements") not in (
        None,
        "LISTING",
        "LISTING_PRODUCT_ONLY",
        "LISTING_OFFER_ONLY",
    ):
        problems.append(f"requirements {body.get('requirements')!r} is invalid")
    problems += _check_attributes(body.get("attributes"))
    return problems


def _validate_patch(body):
    if not isinstance(body, dict):
        return ["The request body must be a JSON object"]
    problems = []
    if not isinstance(body.get("productType"), str) or not body["productType"]:
        problems.append("productType is required")
    patches = body.get("patches")
    if not isinstance(patches, list) or not patches:
        return [*problems, "patches must be a non-empty array"]
    for i, patch in enumerate(patches):
        if patch.get("op") not in PATCH_OPS:
            problems.append(f"patches[{i}].op must be one of {sorted(PATCH_OPS)}")
        if not re.fullmatch(r"/attributes/\w+", patch.get("path") or ""):
            problems.append(f"patches[{i}].path must be /attributes/{{attribute}}")
        if patch.get("op") in {"add", "replace", "merge"} or "value" in patch:
            problems += [f"patches[{i}].{p}" for p in _check_value(patch.get("value"))]
    return problems


def _is_listings(request) -> bool:
    return request["path"].startswith("/listings/")


def _check_attributes(attributes) -> list[str]:
    if not isinstance(attributes, dict) or not attributes:
        return ["attributes must be a non-empty object"]
    problems = []
    for name, value in attributes.items():
        problems += [f"attributes.{name}: {p}" for p in _check_value(value)]
    return problems


def _check_value(value) -> list[str]:
    """Every attribute value is an array of objects (Product Type Definitions' shape)."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        return ["must be a non-empty array of objects"]
    return []
