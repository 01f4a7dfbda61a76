"""Starter TMF620 v4 product catalog of Nimbus Mobile, an Irish MVNO (all entities Launched).

Prices follow the model in domain/catalog.py: `price` is tax-excluded and `tax` carries Irish
VAT (23 %) rounded to the cent. Tax-excluded amounts are chosen so that the tax-included totals
are retail price points (16.26 + 3.74 = 20.00). At 23 % no whole-cent amount ends at 5.00 or
15.00 (4.06 -> 4.99, 4.07 -> 5.01), so those two products retail at 4.99 and 14.99.
Data is counted in MB with 1 GB = 1024 MB. Ids are fixed: ps-* specifications, pop-* prices,
pos-* offerings, cat-* categories.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.money import round_money

Entity = dict[str, Any]
Term = tuple[str, int, str, str]  # name, duration amount, duration units, description

CURRENCY = "EUR"
VAT_RATE = Decimal("23")
START = "2026-01-01T00:00:00.000Z"
GB = 1024
OWNER = {
    "id": "org-mvno",
    "name": "Nimbus Mobile",
    "role": "owner",
    "@referredType": "Organization",
}
ZONES = {
    "home": {"id": "zone-home", "name": "Ireland", "@referredType": "GeographicLocation"},
    "eu": {"id": "zone-eu", "name": "EU/EEA", "@referredType": "GeographicLocation"},
    "row": {"id": "zone-row", "name": "Rest of world", "@referredType": "GeographicLocation"},
}
CHANNELS = (
    {"id": "ch-web", "name": "Web shop", "@referredType": "Channel"},
    {"id": "ch-retail", "name": "Retail stores", "@referredType": "Channel"},
)

# fmt: off
# name: (valueType, unitOfMeasure, allowed values, description)
CHARACTERISTICS: dict[str, tuple[str, str | None, tuple[str, ...], str]] = {
    "msisdn": ("string", None, (), "Mobile number (E.164), assigned at activation"),
    "iccid": ("string", None, (), "Serial number (ICCID) of the SIM card"),
    "includedDataMB": ("integer", "MB", (), "Data per period, usable at home and in the EU"),
    "includedVoiceMinutes": ("integer", "MIN", (), "National and EU minutes per period"),
    "includedSms": ("integer", "SMS", (), "National and EU texts per period"),
    "networkTechnology": ("string", None, ("4G", "5G"), "Best radio access technology"),
    "dataSpeedMbps": ("integer", "Mbps", (), "Download speed cap; absent: network maximum"),
    "unlimitedData": ("boolean", None, (), "Unlimited data; includedDataMB is the fair-use cap"),
    "roamingZone": ("string", None, ("zone-eu", "zone-row"), "Roaming zone it applies to"),
    "includedRoamingDataMB": ("integer", "MB", (), "Extra data usable only in the zone"),
    "includedInternationalMinutes": ("integer", "MIN", (), "Minutes to international numbers"),
    "numberOfLines": ("integer", None, (), "Mobile lines in the bundle (2 to 5)"),
}
REGEX = {"msisdn": r"^\+3538[35-9]\d{7}$", "iccid": r"^8935\d{15,16}$"}
CONFIGURABLE = frozenset({"msisdn", "iccid"})  # set per line when ordered
OPTIONAL = frozenset({"dataSpeedMbps", "unlimitedData"})
PLAN = ("msisdn", "iccid", "includedDataMB", "includedVoiceMinutes", "includedSms")

# id, name, productNumber, description, characteristics, bundled specifications
SPECS = [
    ("ps-mobile-postpaid", "Mobile postpaid plan", "NM-PS-001",
     "Monthly billed SIM plan with a mobile number and monthly allowances",
     (*PLAN, "networkTechnology", "dataSpeedMbps", "unlimitedData"), ()),
    ("ps-mobile-prepaid", "Mobile prepaid plan", "NM-PS-002",
     "Pay-as-you-go SIM plan paid from credit", (*PLAN, "networkTechnology"), ()),
    ("ps-data-addon", "Data add-on", "NM-PS-003",
     "Extra data on top of a plan's allowance", ("includedDataMB",), ()),
    ("ps-roaming-pack", "Roaming pack", "NM-PS-004",
     "Roaming allowance or rates for a zone outside Ireland",
     ("roamingZone", "includedRoamingDataMB"), ()),
    ("ps-international-calls", "International calls pack", "NM-PS-005",
     "Minutes from Ireland to international numbers", ("includedInternationalMinutes",), ()),
    ("ps-family-bundle", "Family bundle", "NM-PS-006",
     "Two to five postpaid lines billed to one account", ("numberOfLines",),
     ("ps-mobile-postpaid",)),
]

# Flat fees: id, name, tax-excluded amount, charge period (None: oneTime). The prepaid bundle
# is `recurring` every 28 days rather than oneTime: it renews from credit while the customer
# tops up, and the period tells rating how long the allowance lasts.
PERIODS = {"month": ("month", 1, "a month"), "28 days": ("day", 28, "every 28 days")}
FEES = [
    ("pop-sim-only-5gb-monthly", "SIM Only 5 GB monthly fee", "8.13", "month"),
    ("pop-sim-only-20gb-monthly", "SIM Only 20 GB monthly fee", "16.26", "month"),
    ("pop-sim-only-unlimited-monthly", "SIM Only Unlimited monthly fee", "24.39", "month"),
    ("pop-activation-fee", "Activation fee", "8.13", None),
    ("pop-prepaid-15-bundle", "Prepaid 15 bundle", "12.19", "28 days"),
    ("pop-data-addon-5gb-monthly", "Data add-on 5 GB monthly fee", "4.06", "month"),
    ("pop-data-topup-10gb", "Data top-up 10 GB", "8.13", None),
    ("pop-eu-roaming-pack-monthly", "EU Roaming Pack monthly fee", "4.88", "month"),
    ("pop-intl-calls-100-monthly", "International Calls 100 monthly fee", "6.50", "month"),
]

# Usage: price of one step (1 MB, 1 MIN, 1 SMS), tax-excluded; tax-included in the comments.
# kind: (unitOfMeasure units, what, one step)
USAGE_KINDS = {
    "data": ("MB", "Data", "MB"),
    "voice": ("MIN", "Calls", "minute"),
    "sms": ("SMS", "Texts", "SMS"),
}
POSTPAID_RATES = {"data": "0.04", "voice": "0.16", "sms": "0.08"}  # 0.05 / 0.20 / 0.10
PREPAID_RATES = {"data": "0.04", "voice": "0.12", "sms": "0.08"}  # 0.05 / 0.15 / 0.10
ROW_RATES = {"data": "0.81", "voice": "1.63", "sms": "0.41"}  # 1.00 / 2.00 / 0.50
# id prefix, label, zone, rates; EU roaming is priced like home ("roam like at home").
USAGE_LISTS = [
    ("pop-home", "Home", "home", POSTPAID_RATES),
    ("pop-eu", "EU roaming", "eu", POSTPAID_RATES),
    ("pop-row", "Rest-of-world roaming", "row", ROW_RATES),
    ("pop-prepaid-home", "Prepaid home", "home", PREPAID_RATES),
    ("pop-prepaid-eu", "Prepaid EU roaming", "eu", PREPAID_RATES),
]
POSTPAID_USAGE = [f"{p}-{kind}" for p, *_ in USAGE_LISTS[:3] for kind in USAGE_KINDS]
PREPAID_USAGE = [f"{p}-{kind}" for p, *_ in USAGE_LISTS[3:] for kind in USAGE_KINDS]
ROW_USAGE = [f"pop-row-{kind}" for kind in USAGE_KINDS]

ROLLING: Term = ("Monthly rolling", 1, "month", "No commitment, cancel any month")
COMMITMENT: Term = ("12-month commitment", 12, "month", "Minimum term from activation")
PROMOTION: Term = ("Promotional period", 3, "month", "Discount applies from activation")

# key, name, includedDataMB, minutes, texts, networkTechnology, term. Unlimited data is
# unlimitedData true with includedDataMB as the fair-use cap (100000 MB).
SIM_ONLY = [
    ("5gb", "SIM Only 5 GB", 5 * GB, 300, 300, "4G", ROLLING),
    ("20gb", "SIM Only 20 GB", 20 * GB, 1000, 1000, "5G", COMMITMENT),
    ("unlimited", "SIM Only Unlimited", 100000, 3000, 3000, "5G", COMMITMENT),
]

# Discounts: id, name, percentage, prices they reduce, term (None: while the bundle lasts).
DISCOUNTS = [
    ("pop-welcome-50-off", "Welcome offer 50 % off", "50",
     [f"pop-sim-only-{plan[0]}-monthly" for plan in SIM_ONLY], PROMOTION,
     "Half price on the SIM Only monthly fee for the first 3 months"),
    ("pop-family-line-discount", "Family bundle 20 % off per line", "20",
     ["pop-sim-only-20gb-monthly"], None,
     "20 % off each line's monthly fee while the bundle has 2 or more lines"),
]

# id, name, specification, category, prices, characteristic values, term, description
OFFERINGS: list[tuple[str, str, str, str, list[str], dict[str, Any], Term | None, str]] = [
    ("pos-prepaid-15", "Prepaid 15", "ps-mobile-prepaid", "cat-prepaid",
     ["pop-prepaid-15-bundle", *PREPAID_USAGE, *ROW_USAGE],
     {"includedDataMB": 30 * GB, "includedVoiceMinutes": 500, "includedSms": 500,
      "networkTechnology": "4G"},
     ("Bundle validity", 28, "day", "Renews from credit every 28 days"),
     "30 GB, 500 minutes and 500 texts for 28 days, 14.99 from credit"),
    ("pos-data-addon-5gb", "Data add-on 5 GB", "ps-data-addon", "cat-add-ons",
     ["pop-data-addon-5gb-monthly"], {"includedDataMB": 5 * GB}, ROLLING,
     "5 GB extra data every month"),
    ("pos-data-topup-10gb", "Data top-up 10 GB", "ps-data-addon", "cat-add-ons",
     ["pop-data-topup-10gb"], {"includedDataMB": 10 * GB},
     ("Validity", 30, "day", "Unused data expires after 30 days"),
     "10 GB of data once, valid 30 days"),
    ("pos-eu-roaming-pack", "EU Roaming Pack", "ps-roaming-pack", "cat-roaming",
     ["pop-eu-roaming-pack-monthly"],
     {"roamingZone": "zone-eu", "includedRoamingDataMB": 10 * GB}, ROLLING,
     "10 GB extra data in the EU/EEA on top of the roam-like-at-home allowance"),
    ("pos-row-roaming-rates", "Rest-of-World roaming price list", "ps-roaming-pack",
     "cat-roaming", ROW_USAGE, {"roamingZone": "zone-row"}, None,
     "Usage prices outside the EU/EEA, for reference: applied by rating, not sold"),
    ("pos-intl-calls-100", "International Calls 100", "ps-international-calls", "cat-add-ons",
     ["pop-intl-calls-100-monthly"], {"includedInternationalMinutes": 100}, ROLLING,
     "100 minutes a month from Ireland to landlines and mobiles in 40 countries"),
    ("pos-welcome-promotion", "Welcome promotion", "ps-mobile-postpaid", "cat-postpaid",
     ["pop-welcome-50-off"], {}, PROMOTION,
     "New customers: 50 % off the SIM Only monthly fee for the first 3 months"),
]
NOT_SELLABLE = frozenset({"pos-row-roaming-rates"})

# id, name, parentId
CATEGORIES = [
    ("cat-mobile-plans", "Mobile plans", None),
    ("cat-postpaid", "Postpaid", "cat-mobile-plans"),
    ("cat-prepaid", "Prepaid", "cat-mobile-plans"),
    ("cat-add-ons", "Add-ons", "cat-mobile-plans"),
    ("cat-roaming", "Roaming", "cat-mobile-plans"),
]
# fmt: on


def _base(type_: str, id_: str, name: str, description: str) -> Entity:
    return {
        "id": id_,
        "@type": type_,
        "name": name,
        "description": description,
        "lifecycleStatus": "Launched",
        "version": "1.0",
        "validFor": {"startDateTime": START},
    }


def _ref(id_: str, referred_type: str | None = None) -> Entity:
    """A reference; its name is filled in by `_name_references` once all entities exist."""
    ref: Entity = {"id": id_, "name": None}
    if referred_type:
        ref["@referredType"] = referred_type
    return ref


def _priced(amount: str) -> Entity:
    price = Decimal(amount)
    tax = {"unit": CURRENCY, "value": round_money(price * VAT_RATE / 100, CURRENCY)}
    item = {"taxCategory": "VAT", "taxRate": VAT_RATE, "taxAmount": tax}
    return {"price": {"unit": CURRENCY, "value": price}, "tax": [item]}


def _term(term: Term) -> Entity:
    name, amount, units, description = term
    duration = {"amount": amount, "units": units}
    return {"name": name, "description": description, "duration": duration}


def _characteristic(name: str) -> Entity:
    value_type, unit, values, description = CHARACTERISTICS[name]
    char: Entity = {
        "name": name,
        "description": description,
        "valueType": value_type,
        "configurable": name in CONFIGURABLE,
        "isUnique": name in CONFIGURABLE,
        "minCardinality": 0 if name in OPTIONAL else 1,
        "maxCardinality": 1,
    }
    if name in REGEX:
        char["regex"] = REGEX[name]
    if unit:
        char["productSpecCharacteristicValue"] = [{"valueType": value_type, "unitOfMeasure": unit}]
    if values:
        char["productSpecCharacteristicValue"] = [
            {"valueType": value_type, "value": value, "isDefault": value == values[-1]}
            for value in values
        ]
    return char


def _specifications() -> list[Entity]:
    specs = []
    for id_, name, number, description, characteristics, bundled in SPECS:
        spec = _base("ProductSpecification", id_, name, description)
        spec |= {
            "brand": OWNER["name"],
            "productNumber": number,
            "isBundle": bool(bundled),
            "productSpecCharacteristic": [_characteristic(char) for char in characteristics],
            "relatedParty": [dict(OWNER)],
        }
        if bundled:
            spec["bundledProductSpecification"] = [_ref(ref) for ref in bundled]
        specs.append(spec)
    return specs


def _prices() -> list[Entity]:
    pops = []
    for id_, name, amount, period in FEES:
        priced = _priced(amount)
        total = priced["price"]["value"] + priced["tax"][0]["taxAmount"]["value"]
        when = PERIODS[period][2] if period else "once"
        pop = _base("ProductOfferingPrice", id_, name, f"{total} EUR incl. VAT, {when}")
        pop |= {"priceType": "recurring" if period else "oneTime", "isBundle": False, **priced}
        if period:
            period_type, length, _ = PERIODS[period]
            pop |= {"recurringChargePeriodType": period_type, "recurringChargePeriodLength": length}
        pops.append(pop)
    for prefix, label, zone, rates in USAGE_LISTS:
        for kind, (units, what, step) in USAGE_KINDS.items():
            name = f"{label} {what.lower()} per {step}"
            description = f"{what} in {ZONES[zone]['name']} beyond the included allowance"
            pop = _base("ProductOfferingPrice", f"{prefix}-{kind}", name, description)
            pop |= {"priceType": "usage", "isBundle": False, **_priced(rates[kind])}
            pop |= {"unitOfMeasure": {"amount": 1, "units": units}, "place": [dict(ZONES[zone])]}
            pops.append(pop)
    for id_, name, percentage, targets, term, description in DISCOUNTS:
        pop = _base("ProductOfferingPrice", id_, name, description)
        pop |= {"priceType": "discount", "isBundle": False, "percentage": Decimal(percentage)}
        pop["popRelationship"] = [
            {**_ref(target, "ProductOfferingPrice"), "relationshipType": "discounts"}
            for target in targets
        ]
        if term:
            pop["productOfferingTerm"] = [_term(term)]
        pops.append(pop)
    return pops


def _uses(spec_id: str, values: dict[str, Any]) -> list[Entity]:
    """prodSpecCharValueUse fixing each characteristic of `values` to its value."""
    uses = []
    for name, value in values.items():
        value_type, unit, _, description = CHARACTERISTICS[name]
        choice: Entity = {"value": value, "isDefault": True, "valueType": value_type}
        if unit:
            choice["unitOfMeasure"] = unit
        use: Entity = {"name": name, "description": description, "valueType": value_type}
        use |= {"minCardinality": 1, "maxCardinality": 1}
        use |= {"productSpecification": _ref(spec_id, "ProductSpecification")}
        uses.append({**use, "productSpecCharacteristicValue": [choice]})
    return uses


def _offering(
    id_: str, name: str, spec: str, category: str, prices: list[str],
    values: dict[str, Any], term: Term | None, description: str,
) -> Entity:  # fmt: skip
    sellable = id_ not in NOT_SELLABLE
    offering = _base("ProductOffering", id_, name, description)
    offering |= {
        "isBundle": False,
        "isSellable": sellable,
        "productSpecification": _ref(spec, "ProductSpecification"),
        "productOfferingPrice": [_ref(pop, "ProductOfferingPrice") for pop in prices],
        "prodSpecCharValueUse": _uses(spec, values),
        "productOfferingTerm": [_term(term)] if term else [],
        "category": [_ref(category, "Category")],
        "channel": [dict(channel) for channel in CHANNELS] if sellable else [],
    }
    if zone := values.get("roamingZone"):
        offering["place"] = [dict(z) for z in ZONES.values() if z["id"] == zone]
    return offering


def _offerings() -> list[Entity]:
    offerings = []
    for key, name, data, minutes, sms, tech, term in SIM_ONLY:
        values: Entity = {"includedDataMB": data, "includedVoiceMinutes": minutes}
        values |= {"includedSms": sms, "networkTechnology": tech}
        if key == "unlimited":
            values["unlimitedData"] = True
        allowance = f"{data // GB} GB data" if key != "unlimited" else "Unlimited data (fair use)"
        description = f"{allowance}, {minutes} minutes and {sms} texts a month; EU roaming at home"
        prices = [f"pop-sim-only-{key}-monthly", "pop-activation-fee", *POSTPAID_USAGE]
        offerings.append(
            _offering(f"pos-sim-only-{key}", name, "ps-mobile-postpaid", "cat-postpaid", prices,
                      values, term, description)
        )  # fmt: skip
    offerings += [_offering(*row) for row in OFFERINGS]
    bundle = _offering(
        "pos-family-bundle", "Family bundle", "ps-family-bundle", "cat-postpaid",
        ["pop-family-line-discount"], {}, COMMITMENT,
        "2 to 5 SIM Only 20 GB lines on one bill with 20 % off every line's monthly fee",
    )  # fmt: skip
    limits = {"numberRelOfferLowerLimit": 2, "numberRelOfferUpperLimit": 5}
    option = {**limits, "numberRelOfferDefault": 2}
    bundled = {**_ref("pos-sim-only-20gb"), "bundledProductOfferingOption": option}
    return [*offerings, bundle | {"isBundle": True, "bundledProductOffering": [bundled]}]


def _categories(offerings: list[Entity]) -> list[Entity]:
    categories = []
    for id_, name, parent in CATEGORIES:
        members = [o["id"] for o in offerings if any(c["id"] == id_ for c in o["category"])]
        category = _base("Category", id_, name, f"Nimbus Mobile {name.lower()}")
        category |= {
            "isRoot": parent is None,
            "productOffering": [_ref(member, "ProductOffering") for member in members],
            "subCategory": [_ref(sub, "Category") for sub, _, up in CATEGORIES if up == id_],
        }
        if parent:
            category["parentId"] = parent
        categories.append(category)
    return categories


def _name_references(node: Any, names: dict[str, str]) -> None:
    if isinstance(node, dict):
        if "name" in node and node["name"] is None:
            node["name"] = names[node["id"]]
        for value in node.values():
            _name_references(value, names)
    elif isinstance(node, list):
        for item in node:
            _name_references(item, names)


def starter_catalog() -> dict[str, list[Entity]]:
    """Fresh entities of the starter catalog keyed by collection path."""
    offerings = _offerings()
    catalog = _base(
        "Catalog", "catalog-mvno-consumer", "MVNO consumer catalog",
        "Nimbus Mobile plans, add-ons and roaming for consumers in Ireland",
    )  # fmt: skip
    catalog |= {
        "catalogType": "ProductCatalog",
        "category": [_ref(id_, "Category") for id_, _, _ in CATEGORIES],
        "relatedParty": [dict(OWNER)],
    }
    data = {
        "productSpecification": _specifications(),
        "productOfferingPrice": _prices(),
        "productOffering": offerings,
        "category": _categories(offerings),
        "catalog": [catalog],
    }
    names = {entity["id"]: entity["name"] for entities in data.values() for entity in entities}
    _name_references(data, names)
    return data
