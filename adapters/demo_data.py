"""Deterministic demo data for a European MVNO brand: customers (TMF629 Customer Management
v4), their billing accounts and billing cycles (TMF666 Account Management) and the usage
specifications of data, voice and SMS records (TMF635 Usage Management)."""

import random
import re
import unicodedata
from decimal import Decimal
from typing import Any

from domain.usage import COUNTRY, DATA, E164, HOME_COUNTRY, SMS, VOICE

COUNTRIES = ["IE", "DE", "FR", "ES", "IT", "NL", "PT"]
LANGUAGE = {"IE": "en", "DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl", "PT": "pt"}
# Mobile prefix (country code + mobile range) and number of random subscriber digits.
MOBILE = {
    "IE": ("+35387", 7),
    "DE": ("+49151", 8),
    "FR": ("+336", 8),
    "ES": ("+346", 8),
    "IT": ("+39347", 7),
    "NL": ("+316", 8),
    "PT": ("+35191", 7),
}
# Comma-separated so that multi-word Dutch surnames ("van Dijk") stay intact.
FIRST_NAMES = {
    "IE": "Aoife,Ciarán,Siobhán,Darragh,Niamh,Eoin,Róisín,Cathal",
    "DE": "Anna,Lukas,Katharina,Jonas,Lena,Felix,Sabine,Matthias",
    "FR": "Camille,Julien,Manon,Antoine,Élodie,Mathieu,Chloé,Thomas",
    "ES": "Lucía,Javier,Carmen,Alejandro,Marta,Pablo,Elena,Sergio",
    "IT": "Giulia,Lorenzo,Francesca,Matteo,Chiara,Davide,Sara,Alessandro",
    "NL": "Sanne,Daan,Fleur,Bram,Lotte,Sem,Eva,Thijs",
    "PT": "Inês,João,Beatriz,Tiago,Mariana,Rui,Catarina,Miguel",
}
LAST_NAMES = {
    "IE": "Murphy,Kelly,O'Brien,Byrne,Walsh,Ryan,Doyle,Gallagher",
    "DE": "Müller,Schmidt,Schneider,Fischer,Weber,Becker,Wagner,Hoffmann",
    "FR": "Martin,Bernard,Dubois,Laurent,Moreau,Girard,Lefèvre,Fontaine",
    "ES": "García,Fernández,López,Martínez,Sánchez,Romero,Navarro,Ruiz",
    "IT": "Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Colombo,Ricci",
    "NL": "de Jong,Jansen,de Vries,van den Berg,Bakker,Visser,Smit,van Dijk",
    "PT": "Silva,Santos,Ferreira,Pereira,Oliveira,Costa,Rodrigues,Martins",
}
# (country, street template, city, postcode, state/province -- "" where not customary)
ADDRESSES = [
    ("IE", "{n} Grafton Street", "Dublin", "D02 VF65", "Co. Dublin"),
    ("IE", "{n} Oliver Plunkett Street", "Cork", "T12 X2N5", "Co. Cork"),
    ("IE", "{n} Shop Street", "Galway", "H91 F9KT", "Co. Galway"),
    ("DE", "Leopoldstraße {n}", "München", "80802", "Bayern"),
    ("DE", "Schönhauser Allee {n}", "Berlin", "10435", "Berlin"),
    ("DE", "Ehrenstraße {n}", "Köln", "50672", "Nordrhein-Westfalen"),
    ("FR", "{n} Rue Oberkampf", "Paris", "75011", ""),
    ("FR", "{n} Rue de la République", "Lyon", "69002", ""),
    ("FR", "{n} Rue Sainte-Catherine", "Bordeaux", "33000", ""),
    ("ES", "Calle de Fuencarral {n}", "Madrid", "28004", "Madrid"),
    ("ES", "Carrer de Mallorca {n}", "Barcelona", "08008", "Barcelona"),
    ("ES", "Calle Sierpes {n}", "Sevilla", "41004", "Sevilla"),
    ("IT", "Via Torino {n}", "Milano", "20123", "MI"),
    ("IT", "Via del Corso {n}", "Roma", "00186", "RM"),
    ("IT", "Via dei Tribunali {n}", "Napoli", "80138", "NA"),
    ("NL", "Prinsengracht {n}", "Amsterdam", "1015 DX", "Noord-Holland"),
    ("NL", "Oudegracht {n}", "Utrecht", "3511 AX", "Utrecht"),
    ("NL", "Witte de Withstraat {n}", "Rotterdam", "3012 BP", "Zuid-Holland"),
    ("PT", "Rua Augusta {n}", "Lisboa", "1100-053", ""),
    ("PT", "Rua de Santa Catarina {n}", "Porto", "4000-447", ""),
    ("PT", "Rua Ferreira Borges {n}", "Coimbra", "3000-180", ""),
]
# Small-business customers; they occupy every 4th slot (4, 8, ..., 48).
ORGANIZATIONS = [
    ("Bäckerei Hoffmann GmbH", "DE"),
    ("Liffey Logistics Ltd", "IE"),
    ("Cabinet Dentaire Moreau", "FR"),
    ("Panadería Hermanos Ruiz S.L.", "ES"),
    ("Studio Dentistico Bianchi", "IT"),
    ("Van Dijk Transport B.V.", "NL"),
    ("Pastelaria Ferreira Lda", "PT"),
    ("Shannon Dental Care Ltd", "IE"),
    ("Kaiser Elektrotechnik GmbH", "DE"),
    ("Boulangerie Lefèvre SARL", "FR"),
    ("Trattoria Da Marco S.r.l.", "IT"),
    ("Bloem & Zoon Hoveniers V.O.F.", "NL"),
]
# Non-Approved statuses by slot; every other slot is Approved (35 in total).
STATUS = {
    5: "Validated", 19: "Validated", 27: "Validated", 37: "Validated", 44: "Validated",
    49: "Validated", 10: "Initialized", 28: "Initialized", 46: "Initialized", 50: "Initialized",
    7: "Suspended", 23: "Suspended", 41: "Suspended", 15: "Closed", 33: "Closed",
}  # fmt: skip
STATUS_REASON = {
    7: "Unpaid bills over 60 days",
    23: "Suspected SIM swap fraud under investigation",
    41: "Unpaid bills over 60 days",
    15: "Customer requested termination",
    33: "Number ported out to another operator",
}
CARD_BRANDS = ["Visa", "Mastercard"]
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _slug(text: str, sep: str = ".") -> str:
    ascii_text = unicodedata.normalize("NFKD", text.lower().translate(UMLAUTS))
    ascii_text = ascii_text.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, ascii_text.replace("'", "")).strip(sep)


def _instant(year: int, month: int, day: int, hour: int = 10) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:00:00.000Z"


def _build(i: int, rng: random.Random, seen: dict[str, int]) -> tuple[str, dict[str, Any]]:
    """Build the TMF629 Customer create body for demo slot ``i`` (1-based)."""
    is_org = i % 4 == 0
    country = ORGANIZATIONS[i // 4 - 1][1] if is_org else COUNTRIES[i % len(COUNTRIES)]
    k = seen[country] = seen.get(country, -1) + 1  # running index per country
    first, last = FIRST_NAMES[country].split(","), LAST_NAMES[country].split(",")
    if is_org:
        name = ORGANIZATIONS[i // 4 - 1][0]
        email = f"{_slug(name, '-')}@example.org"
    else:
        name = f"{first[k % 8]} {last[(3 * k + 1) % 8]}"
        email = f"{_slug(name)}@example.{('com', 'net', 'org')[i % 3]}"
    status = STATUS.get(i, "Approved")
    _, street, city, post_code, province = [a for a in ADDRESSES if a[0] == country][k % 3]
    prefix, digits = MOBILE[country]
    phone = prefix + "".join(str(rng.randint(0, 9)) for _ in range(digits))
    address: dict[str, Any] = {
        "contactType": "postalAddress",
        "street1": street.format(n=rng.randint(1, 180)),
        "city": city,
        "postCode": post_code,
        "country": country,
    }
    if province:
        address["stateOrProvince"] = province
    # Recent sign-ups are still in onboarding; closed accounts are older.
    year = 2026 if status in ("Initialized", "Validated") else 2024 + i % 2
    year = 2024 if status == "Closed" else year
    month, day = rng.randint(1, 9 if year == 2026 else 12), rng.randint(1, 28)
    valid_for = {"startDateTime": _instant(year, month, day)}
    if status == "Closed":
        valid_for["endDateTime"] = _instant(year + 1, rng.randint(1, 12), rng.randint(1, 28), 17)
    score = rng.randint(380, 540) if status == "Suspended" else rng.randint(560, 840)
    risk = 5 - sum(score >= cut for cut in (560, 640, 700, 760))  # 1 = lowest risk
    c_month, c_day = (month, day) if year == 2026 else (rng.randint(1, 9), rng.randint(1, 28))
    if is_org or rng.randint(0, 2) == 0:
        payment = "SEPA direct debit"
    else:
        payment = f"{rng.choice(CARD_BRANDS)} ending {rng.randint(1000, 9999)}"
    segment = "smallBusiness" if is_org else "consumer"
    billing = f"{name} billing account"
    related: list[dict[str, Any]] = []
    if is_org:
        contact = f"{first[(k + 5) % 8]} {last[(5 * k + 6) % 8]}"
        role = {"role": "contactPerson", "@referredType": "Individual"}
        related.append({"id": f"ind-demo-1{i:03d}", "name": contact, **role})
    body: dict[str, Any] = {
        "@type": "Customer",
        "name": name,
        "status": status,
        "engagedParty": {
            "id": f"{'org' if is_org else 'ind'}-demo-{i:04d}",
            "name": name,
            "@referredType": "Organization" if is_org else "Individual",
        },
        "contactMedium": [
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {"contactType": "email", "emailAddress": email},
            },
            {
                "mediumType": "mobile",
                "preferred": False,
                "characteristic": {"contactType": "mobile", "phoneNumber": phone},
            },
            {"mediumType": "postalAddress", "preferred": False, "characteristic": address},
        ],
        "characteristic": [
            {"name": "preferredLanguage", "valueType": "string", "value": LANGUAGE[country]},
            {"name": "marketingConsent", "valueType": "boolean", "value": rng.randint(0, 4) > 1},
            {"name": "segment", "valueType": "string", "value": segment},
        ],
        "creditProfile": [
            {
                "creditProfileDate": _instant(2026, c_month, c_day, 9),
                "creditRiskRating": risk,
                "creditScore": score,
                "validFor": {
                    "startDateTime": _instant(2026, c_month, c_day, 9),
                    "endDateTime": _instant(2027, c_month, c_day, 9),
                },
            }
        ],
        "paymentMethod": [
            {"id": f"pm-demo-{i:04d}", "name": payment, "@referredType": "PaymentMethod"}
        ],
        "account": [{"id": f"ba-demo-{i:04d}", "name": billing, "@referredType": "BillingAccount"}],
        "relatedParty": related,
        "agreement": [],
        "validFor": valid_for,
    }
    if i in STATUS_REASON:
        body["statusReason"] = STATUS_REASON[i]
    return f"cus-demo-{i:04d}", body


def demo_customers() -> list[tuple[str, dict[str, Any]]]:
    """Return 50 deterministic (id, TMF629 Customer create body) demo pairs."""
    rng = random.Random(42)
    seen: dict[str, int] = {}
    return [_build(i, rng, seen) for i in range(1, 51)]


# billing accounts (TMF666) -------------------------------------------------------------------

# (id, name, billingDateShift): bill periods start on day billingDateShift + 1 of the month
CYCLES = [
    ("bcs-monthly-1", "Monthly, from the 1st", 0),
    ("bcs-monthly-15", "Monthly, from the 15th", 14),
]
PAYMENT_DUE_DAYS = 14
# (creditLimit, spendCap) in EUR, by segment
LIMITS = {"consumer": ("150.00", "50.00"), "smallBusiness": ("1000.00", "250.00")}
# Slots whose account is barred from chargeable usage once the spend cap is reached.
BARRED_AT_CAP = frozenset({3, 17, 26, 38, 45})


def demo_billing_cycles() -> list[tuple[str, dict[str, Any]]]:
    """The (id, TMF666 BillingCycleSpecification create body) pairs the demo accounts use."""
    return [
        (
            cycle_id,
            {
                "@type": "BillingCycleSpecification",
                "name": name,
                "description": (
                    f"Monthly bill periods starting at midnight on day {shift + 1}, in the "
                    f"account's time zone; payment due {PAYMENT_DUE_DAYS} days after the bill"
                ),
                "frequency": "monthly",
                "billingPeriod": "month",
                "billingDateShift": shift,
                "paymentDueDateOffset": PAYMENT_DUE_DAYS,
                "validFor": {"startDateTime": _instant(2024, 1, 1, 0)},
            },
        )
        for cycle_id, name, shift in CYCLES
    ]


def demo_billing_accounts() -> list[tuple[str, dict[str, Any]]]:
    """One (id, TMF666 BillingAccount create body) pair per demo customer: the account its
    `account` entry names, billed in EUR with Irish VAT, paid with its payment method."""
    return [
        _billing_account(i, customer_id, customer)
        for i, (customer_id, customer) in enumerate(demo_customers(), start=1)
    ]


def _billing_account(
    i: int, customer_id: str, customer: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    [ref] = customer["account"]
    segment = next(c["value"] for c in customer["characteristic"] if c["name"] == "segment")
    credit_limit, spend_cap = LIMITS[segment]
    cycle_id, cycle_name, _ = CYCLES[1] if i % 3 == 0 else CYCLES[0]  # a third mid-month
    body: dict[str, Any] = {
        "@type": "BillingAccount",
        "name": ref["name"],
        "state": "Active",
        "relatedParty": [
            {
                "id": customer_id,
                "name": customer["name"],
                "role": "owner",
                "@referredType": "Customer",
            }
        ],
        "billStructure": {
            "cycleSpecification": {
                "id": cycle_id,
                "name": cycle_name,
                "@referredType": "BillingCycleSpecification",
            }
        },
        "defaultPaymentMethod": dict(customer["paymentMethod"][0]),
        "currency": "EUR",
        "timeZone": "Europe/Dublin",
        "taxProfile": {"country": "IE"},
        "creditLimit": {"unit": "EUR", "value": Decimal(credit_limit)},
        "spendCap": {"unit": "EUR", "value": Decimal(spend_cap)},
        "barAtSpendCap": i in BARRED_AT_CAP,
    }
    return ref["id"], body


# usage specifications (TMF635) ---------------------------------------------------------------

# name: (valueType, description, regex) of the characteristics a usage record carries
USAGE_CHARACTERISTICS: dict[str, tuple[str, str, str | None]] = {
    "msisdn": ("string", "The subscriber's mobile number (E.164)", E164.pattern),
    "visitedCountry": (
        "string",
        f"Country the usage happened in (ISO 3166 alpha-2); absent: home ({HOME_COUNTRY})",
        COUNTRY.pattern,
    ),
    "visitedNetwork": ("string", "MCC-MNC of the network used (kept, not rated)", None),
    "bytes": ("integer", "Data volume, up and down, in bytes", None),
    "durationSeconds": ("integer", "Seconds (voice: answered, rated; data: kept)", None),
    "calledNumber": ("string", "The other party's number (E.164)", E164.pattern),
    "messages": ("integer", "Number of messages; absent: 1", None),
}
# (id, usage type, name, description, characteristics: name -> required)
USAGE_SPECIFICATIONS = [
    (
        "us-data",
        DATA,
        "Mobile data usage",
        "A data session (or part of one) of a mobile line, rated on its volume",
        {"msisdn": True, "visitedCountry": False, "visitedNetwork": False, "bytes": True,
         "durationSeconds": False},
    ),
    (
        "us-voice",
        VOICE,
        "Voice call",
        "An answered outgoing call of a mobile line, rated on its duration",
        {"msisdn": True, "visitedCountry": False, "visitedNetwork": False,
         "durationSeconds": True, "calledNumber": False},
    ),
    (
        "us-sms",
        SMS,
        "Text message",
        "Outgoing text messages of a mobile line, rated per message",
        {"msisdn": True, "visitedCountry": False, "visitedNetwork": False,
         "calledNumber": False, "messages": False},
    ),
]  # fmt: skip


def demo_usage_specifications() -> list[tuple[str, dict[str, Any]]]:
    """The (id, TMF635 UsageSpecification create body) pairs of the three usage types."""
    return [
        (
            spec_id,
            {
                "@type": "UsageSpecification",
                "name": name,
                "description": f"{description} (usageType {usage_type})",
                "lifecycleStatus": "Active",
                "validFor": {"startDateTime": _instant(2026, 1, 1, 0)},
                "specCharacteristic": [
                    _usage_characteristic(char, required) for char, required in chars.items()
                ],
            },
        )
        for spec_id, usage_type, name, description, chars in USAGE_SPECIFICATIONS
    ]


def _usage_characteristic(name: str, required: bool) -> dict[str, Any]:
    value_type, description, regex = USAGE_CHARACTERISTICS[name]
    spec: dict[str, Any] = {
        "name": name,
        "valueType": value_type,
        "description": description,
        "configurable": False,
        "minCardinality": 1 if required else 0,
        "maxCardinality": 1,
    }
    if regex:
        spec["regex"] = regex
    return spec


def demo_records() -> dict[str, list[dict[str, Any]]]:
    """Every demo record but the catalog, keyed by collection path, each body carrying its
    `id`, in the order seeding must create them: an account needs its customer and cycle."""
    pairs = {
        "customer": demo_customers(),
        "billingCycleSpecification": demo_billing_cycles(),
        "billingAccount": demo_billing_accounts(),
        "usageSpecification": demo_usage_specifications(),
    }
    return {path: [dict(body, id=i) for i, body in bodies] for path, bodies in pairs.items()}
