"""TMF620 Product Catalog: resource descriptions, lifecycle and the rules that keep a
catalog sellable (launch integrity, prices frozen once launched, no dangling references).

Modelling of prices (what ordering and billing read; documented in README):
- priceType `oneTime` / `recurring` / `usage` / `discount`.
- `price` is the tax-excluded amount; `tax` holds VAT items {taxCategory, taxRate, taxAmount};
  tax-included = price + taxes, each tax rounded to the currency's minor unit.
- recurring: `recurringChargePeriodType` day/week/month/year and `recurringChargePeriodLength`.
- usage: `unitOfMeasure` {amount, units} is the rated step (1 MB, 1 MIN, 1 SMS); `price` is the
  price of one step; `place` restricts it to a zone (roaming). Included allowances are
  characteristic values of the offering (`prodSpecCharValueUse`, e.g. includedDataMB).
- discount: `percentage` or `price` (amount off) applied to the POPs named in
  `popRelationship` (relationshipType `discounts`), for `productOfferingTerm[0].duration`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from domain.errors import Conflict, InvalidRequest, Unprocessable
from domain.instants import format_instant, parse_instant
from domain.lifecycle import Lifecycle
from domain.money import money_value, round_money, to_decimal
from domain.query import AttrType, Criterion
from domain.resource import Lookup, Referrer, ResourceType, Rules

LAUNCHED = "Launched"
IN_USE = frozenset({"Active", "Launched"})
# what may change on a Launched entity without checking it is still launchable
WORDING = frozenset({"name", "description", "statusReason", "lastUpdate", "version"})
PRICE_TYPES = frozenset({"oneTime", "recurring", "usage", "discount"})
PERIOD_TYPES = frozenset({"day", "week", "month", "year"})

CATALOG_LIFECYCLE = Lifecycle(
    attribute="lifecycleStatus",
    transitions={
        "In Study": frozenset({"In Design", "Rejected"}),
        "In Design": frozenset({"In Test", "Rejected"}),
        "In Test": frozenset({"Active", "Rejected"}),
        "Active": frozenset({"Launched", "Retired"}),
        "Launched": frozenset({"Retired"}),
        "Retired": frozenset({"Obsolete"}),
        "Obsolete": frozenset(),
        "Rejected": frozenset(),
    },
    initial="In Study",
    creatable=frozenset({"In Study", "In Design", "In Test", "Active"}),
)

COMMON_FILTERS = {
    "id": AttrType.STRING,
    "name": AttrType.STRING,
    "lifecycleStatus": AttrType.STRING,
    "lastUpdate": AttrType.INSTANT,
    "version": AttrType.STRING,
    "validFor.startDateTime": AttrType.INSTANT,
    "validFor.endDateTime": AttrType.INSTANT,
}
COMMON_ATTRIBUTES = frozenset(
    {"name", "description", "lifecycleStatus", "lastUpdate", "version", "validFor"}
)


def _launched_referrer(collection: str, path: str) -> Referrer:
    return Referrer(collection, path, where={"lifecycleStatus": (LAUNCHED,)})


def ref_ids(resource: Mapping[str, Any], attribute: str) -> list[str]:
    """Ids of the references held in `attribute` (one reference or a list of them)."""
    value = resource.get(attribute)
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return [item["id"] for item in items if isinstance(item, dict) and item.get("id")]


class CatalogEntityRules(Rules):
    """Rules every catalog entity shares; subclasses add their own references."""

    # attribute -> collection of the entities it references, checked at launch
    references: ClassVar[Mapping[str, str]] = {}
    # attributes that may still change once the entity is Launched (None: all)
    editable_when_launched: ClassVar[frozenset[str] | None] = None

    def __init__(self) -> None:
        # Launched entities that use this one; set by the resource description
        self.used_by: tuple[Referrer, ...] = ()

    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        self.check(resource)

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        self.refuse_leaving_service_while_used(before, after, lookup)
        if before.get("lifecycleStatus") == LAUNCHED and self.editable_when_launched is not None:
            frozen = sorted(
                key
                for key in before.keys() | after.keys()
                if before.get(key) != after.get(key)
                and key not in self.editable_when_launched | {"lastUpdate", "version"}
            )
            if frozen:
                raise Conflict(
                    f"{', '.join(frozen)} cannot change while Launched: retire it and "
                    "publish a new version"
                )
        # A launch, and any change to a Launched entity beyond its wording, must leave it
        # launchable. Checked first, so that every reason is listed (422), an end before the
        # start among them, rather than only that one inconsistency (400).
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        if after.get("lifecycleStatus") == LAUNCHED and changed - WORDING:
            self.require_launchable(after, lookup)
        self.check(after)

    def on_import(
        self, before: Mapping[str, Any] | None, resource: dict[str, Any], lookup: Lookup
    ) -> None:
        """An imported entity may arrive Launched: it must then be launchable as it is,
        against what exists at that point. One that leaves Launched is checked as a client
        would change it: first moved on (retired), then edited."""
        if before and before.get("lifecycleStatus") == LAUNCHED != resource.get("lifecycleStatus"):
            before = {**before, "lifecycleStatus": resource.get("lifecycleStatus")}
        super().on_import(before, resource, lookup)
        if resource.get("lifecycleStatus") == LAUNCHED:
            self.require_launchable(resource, lookup)

    def refuse_leaving_service_while_used(
        self, before: Mapping[str, Any], after: Mapping[str, Any], lookup: Lookup
    ) -> None:
        """Retiring a price or specification under a Launched offering would silently take
        it out of what that offering sells: retire the offering first."""
        state = after.get("lifecycleStatus")
        if before.get("lifecycleStatus") not in IN_USE or state in IN_USE:
            return
        for referrer in self.used_by:
            users = lookup.referrers(referrer, after["id"])
            if users:
                raise Conflict(
                    f"cannot become {state}: Launched {referrer.collection} "
                    f"{', '.join(users)} use(s) it through {referrer.path}; retire them first"
                )

    def require_launchable(self, resource: Mapping[str, Any], lookup: Lookup) -> None:
        problems = list(self.launch_problems(resource, lookup))
        if problems:
            raise Unprocessable("cannot launch: " + "; ".join(problems))

    def check(self, resource: dict[str, Any]) -> None:
        """Consistency that holds in every state."""
        check_valid_for(resource.get("validFor"), "validFor")

    def launch_problems(self, resource: Mapping[str, Any], lookup: Lookup) -> Iterable[str]:
        valid_for = resource.get("validFor") or {}
        start, end = valid_for.get("startDateTime"), valid_for.get("endDateTime")
        if not start:
            yield "validFor.startDateTime is required to launch"
        elif end and parse_instant(end) <= parse_instant(start):
            yield "validFor.endDateTime must be after validFor.startDateTime"
        for attribute, collection in self.references.items():
            value = resource.get(attribute)
            entries = value if isinstance(value, list) else [value] if value else []
            if not all(isinstance(entry, dict) and entry.get("id") for entry in entries):
                yield f"{attribute}: every entry must refer to a {collection} by id"
            for ref_id in ref_ids(resource, attribute):
                referenced = lookup.get(collection, ref_id)
                if referenced is None:
                    yield f"{attribute} '{ref_id}' does not exist"
                elif referenced.get("lifecycleStatus") not in IN_USE:
                    state = referenced.get("lifecycleStatus")
                    yield f"{attribute} '{ref_id}' is {state}, not Active or Launched"


def check_valid_for(valid_for: Mapping[str, Any] | None, where: str) -> None:
    if not valid_for:
        return
    start, end = valid_for.get("startDateTime"), valid_for.get("endDateTime")
    if start and end and parse_instant(end) <= parse_instant(start):
        raise InvalidRequest(f"{where}: endDateTime must be after startDateTime")


class OfferingRules(CatalogEntityRules):
    references: ClassVar[Mapping[str, str]] = {
        "productSpecification": "productSpecification",
        "productOfferingPrice": "productOfferingPrice",
        "bundledProductOffering": "productOffering",
        "category": "category",
    }
    editable_when_launched = frozenset(
        {
            "name",
            "description",
            "lifecycleStatus",
            "statusReason",
            "validFor",
            "category",
            "channel",
            "marketSegment",
            "attachment",
            "isSellable",
        }
    )

    def check(self, resource: dict[str, Any]) -> None:
        super().check(resource)
        resource.setdefault("isBundle", bool(resource.get("bundledProductOffering")))
        resource.setdefault("isSellable", True)
        for index, bundled in enumerate(resource.get("bundledProductOffering") or []):
            option = bundled.get("bundledProductOfferingOption") or {}
            low = option.get("numberRelOfferLowerLimit", 0)
            high = option.get("numberRelOfferUpperLimit")
            default = option.get("numberRelOfferDefault")
            where = f"bundledProductOffering[{index}].bundledProductOfferingOption"
            if low < 0 or (high is not None and high < low):
                raise InvalidRequest(f"{where}: limits must satisfy 0 <= lower <= upper")
            if default is not None and (default < low or (high is not None and default > high)):
                raise InvalidRequest(f"{where}: default must lie between the limits")

    def launch_problems(self, resource: Mapping[str, Any], lookup: Lookup) -> Iterable[str]:
        yield from super().launch_problems(resource, lookup)
        bundled = bool(resource.get("bundledProductOffering"))
        if resource.get("isBundle") and not bundled:
            yield "isBundle is true but bundledProductOffering is empty"
        if bundled and not resource.get("isBundle"):
            yield "bundledProductOffering is set but isBundle is false"
        if not bundled and not resource.get("productSpecification"):
            yield "productSpecification is required to launch a simple offering"


class PriceRules(CatalogEntityRules):
    references: ClassVar[Mapping[str, str]] = {"bundledPopRelationship": "productOfferingPrice"}
    editable_when_launched = frozenset(
        {"name", "description", "lifecycleStatus", "validFor", "statusReason"}
    )

    def check(self, resource: dict[str, Any]) -> None:
        super().check(resource)
        resource.setdefault("isBundle", bool(resource.get("bundledPopRelationship")))
        price_type = resource.get("priceType")
        if price_type is not None and price_type not in PRICE_TYPES:
            allowed = ", ".join(sorted(PRICE_TYPES))
            raise InvalidRequest(f"priceType: '{price_type}' is not one of {allowed}")
        period = resource.get("recurringChargePeriodType")
        if period is not None and period not in PERIOD_TYPES:
            allowed = ", ".join(sorted(PERIOD_TYPES))
            raise InvalidRequest(f"recurringChargePeriodType: '{period}' is not one of {allowed}")
        if price_type == "recurring":
            resource.setdefault("recurringChargePeriodLength", 1)
            if resource["recurringChargePeriodLength"] < 1:
                raise InvalidRequest("recurringChargePeriodLength must be at least 1")
        percentage = resource.get("percentage")
        if percentage is not None and not 0 <= to_decimal(percentage, "percentage") <= 100:
            raise InvalidRequest("percentage must be between 0 and 100")
        check_taxes(resource)

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        super().on_update(before, after, lookup)
        price_fields = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        price_fields -= self.editable_when_launched | {"lastUpdate", "version"}
        if price_fields:
            offerings = lookup.referrers(
                _launched_referrer("productOffering", "productOfferingPrice.id"), after["id"]
            )
            if offerings:
                raise Conflict(
                    f"{', '.join(sorted(price_fields))} cannot change: the price is used by "
                    f"Launched offering(s) {', '.join(offerings)}; retire them and publish a "
                    "new version"
                )

    def launch_problems(self, resource: Mapping[str, Any], lookup: Lookup) -> Iterable[str]:
        yield from super().launch_problems(resource, lookup)
        price_type = resource.get("priceType")
        if price_type is None:
            yield "priceType is required to launch"
        if resource.get("isBundle"):
            return
        if price_type in ("oneTime", "recurring", "usage") and not resource.get("price"):
            yield f"a {price_type} price needs price"
        if price_type == "recurring" and not resource.get("recurringChargePeriodType"):
            yield "a recurring price needs recurringChargePeriodType"
        if price_type == "usage":
            unit = resource.get("unitOfMeasure") or {}
            if not unit.get("units") or not unit.get("amount"):
                yield "a usage price needs unitOfMeasure with amount and units"
        if price_type == "discount":
            if resource.get("percentage") is None and not resource.get("price"):
                yield "a discount needs percentage or price"
            if not resource.get("popRelationship"):
                yield "a discount needs popRelationship naming the prices it reduces"


def check_taxes(resource: Mapping[str, Any]) -> None:
    """Each VAT item's amount must be the price times its rate, rounded to the minor unit."""
    price = money_value(resource.get("price"), "price")
    for index, item in enumerate(resource.get("tax") or []):
        where = f"tax[{index}]"
        if price is None:
            raise InvalidRequest(f"{where}: a tax needs a price")
        amount, currency = price
        tax = money_value(item.get("taxAmount"), f"{where}.taxAmount")
        if item.get("taxRate") is None or tax is None:
            raise InvalidRequest(f"{where}: taxRate and taxAmount are required")
        rate = to_decimal(item["taxRate"], f"{where}.taxRate")
        expected = round_money(amount * rate / 100, currency)
        if tax[1] != currency:
            raise InvalidRequest(f"{where}.taxAmount: currency {tax[1]} differs from {currency}")
        if tax[0] != expected:
            raise InvalidRequest(f"{where}.taxAmount: {tax[0]} should be {expected} ({rate} %)")


class SpecificationRules(CatalogEntityRules):
    references: ClassVar[Mapping[str, str]] = {
        "bundledProductSpecification": "productSpecification"
    }


class CategoryRules(CatalogEntityRules):
    def check(self, resource: dict[str, Any]) -> None:
        super().check(resource)
        parent = resource.get("parentId")
        if parent is not None and parent == resource.get("id"):
            raise InvalidRequest("parentId: a category cannot be its own parent")
        resource["isRoot"] = not parent

    def launch_problems(self, resource: Mapping[str, Any], lookup: Lookup) -> Iterable[str]:
        yield from super().launch_problems(resource, lookup)
        parent_id = resource.get("parentId")
        if parent_id:
            parent = lookup.get("category", parent_id)
            if parent is None:
                yield f"parentId '{parent_id}' does not exist"
            elif parent.get("lifecycleStatus") not in IN_USE:
                yield f"parent category '{parent_id}' is {parent.get('lifecycleStatus')}"


class CatalogRules(CatalogEntityRules):
    references: ClassVar[Mapping[str, str]] = {"category": "category"}


def _catalog_type(
    name: str,
    path: str,
    attributes: Iterable[str],
    filters: Mapping[str, AttrType],
    rules: Rules,
    referrers: tuple[Referrer, ...] = (),
    derived_filters: Mapping[str, Any] | None = None,
) -> ResourceType:
    if isinstance(rules, CatalogEntityRules):
        rules.used_by = referrers
    return ResourceType(
        name=name,
        api="productCatalogManagement",
        path=path,
        attributes=COMMON_ATTRIBUTES | frozenset(attributes),
        filters={**COMMON_FILTERS, **filters},
        instant_keys=frozenset({"startDateTime", "endDateTime", "lastUpdate"}),
        server_dates=("lastUpdate",),
        version_attribute="version",
        lifecycle=CATALOG_LIFECYCLE,
        referrers=referrers,
        undeletable_states=frozenset({LAUNCHED}),
        rules=rules,
        derived_filters=derived_filters or {},
    )


def sellable_at(raw: str) -> tuple[Criterion, ...]:
    """Offerings a customer can buy at an instant: Launched, sellable, inside validFor."""
    at = format_instant(parse_instant(raw))
    return (
        Criterion("lifecycleStatus", "eq", (LAUNCHED,)),
        Criterion("isSellable", "eq", (True,)),
        Criterion("validFor.startDateTime", "lte", (at,)),
        Criterion("validFor.endDateTime", "gt", (at,), missing_ok=True),
    )


PRODUCT_OFFERING = _catalog_type(
    "ProductOffering",
    "productOffering",
    {
        "isBundle", "isSellable", "statusReason", "agreement", "attachment",
        "bundledProductOffering", "category", "channel", "marketSegment", "place",
        "prodSpecCharValueUse", "productOfferingPrice", "productOfferingRelationship",
        "productOfferingTerm", "productSpecification", "resourceCandidate", "serviceCandidate",
        "serviceLevelAgreement",
    },
    {
        "isBundle": AttrType.BOOLEAN,
        "isSellable": AttrType.BOOLEAN,
        "category.id": AttrType.STRING,
        "productSpecification.id": AttrType.STRING,
        "channel.id": AttrType.STRING,
        "productOfferingPrice.id": AttrType.STRING,
        "bundledProductOffering.id": AttrType.STRING,
    },
    OfferingRules(),
    referrers=(
        _launched_referrer("productOffering", "bundledProductOffering.id"),
        _launched_referrer("category", "productOffering.id"),
    ),
    derived_filters={"sellableAt": sellable_at},
)  # fmt: skip

PRODUCT_OFFERING_PRICE = _catalog_type(
    "ProductOfferingPrice",
    "productOfferingPrice",
    {
        "isBundle", "percentage", "priceType", "recurringChargePeriodLength",
        "recurringChargePeriodType", "bundledPopRelationship", "constraint", "place",
        "popRelationship", "price", "pricingLogicAlgorithm", "prodSpecCharValueUse",
        "productOfferingTerm", "tax", "unitOfMeasure",
    },
    {
        "priceType": AttrType.STRING,
        "isBundle": AttrType.BOOLEAN,
        "recurringChargePeriodType": AttrType.STRING,
        "unitOfMeasure.units": AttrType.STRING,
    },
    PriceRules(),
    referrers=(
        _launched_referrer("productOffering", "productOfferingPrice.id"),
        _launched_referrer("productOfferingPrice", "bundledPopRelationship.id"),
    ),
)  # fmt: skip

PRODUCT_SPECIFICATION = _catalog_type(
    "ProductSpecification",
    "productSpecification",
    {
        "brand", "isBundle", "productNumber", "attachment", "bundledProductSpecification",
        "productSpecCharacteristic", "productSpecificationRelationship", "relatedParty",
        "resourceSpecification", "serviceSpecification", "targetProductSchema",
    },
    {"isBundle": AttrType.BOOLEAN, "brand": AttrType.STRING, "productNumber": AttrType.STRING},
    SpecificationRules(),
    referrers=(
        _launched_referrer("productOffering", "productSpecification.id"),
        _launched_referrer("productSpecification", "bundledProductSpecification.id"),
    ),
)  # fmt: skip

CATEGORY = _catalog_type(
    "Category",
    "category",
    {"isRoot", "parentId", "productOffering", "subCategory"},
    {"isRoot": AttrType.BOOLEAN, "parentId": AttrType.STRING},
    CategoryRules(),
    referrers=(
        _launched_referrer("productOffering", "category.id"),
        _launched_referrer("catalog", "category.id"),
        _launched_referrer("category", "parentId"),
    ),
)

CATALOG = _catalog_type(
    "Catalog",
    "catalog",
    {"catalogType", "category", "relatedParty"},
    {"catalogType": AttrType.STRING, "category.id": AttrType.STRING},
    CatalogRules(),
)

CATALOG_TYPES = (CATALOG, CATEGORY, PRODUCT_SPECIFICATION, PRODUCT_OFFERING_PRICE, PRODUCT_OFFERING)
