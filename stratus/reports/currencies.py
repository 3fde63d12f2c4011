"""ISO 4217 currency codes an exchange rate may name.

The codes in circulation (ISO 4217 list one, 2025), without the fund, precious-metal, testing
and "no currency" codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW, XAG, XAU, XBA..XBD, XDR,
XPD, XPT, XSU, XTS, XUA, XXX), which no deal is priced in.
"""

from __future__ import annotations

ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER
    ZAR ZMW ZWG
    """.split()  # noqa: SIM905 (a table to read, not a list to edit)
)

# The same codes in order: the OpenAPI enum of every currency-code field (one named enum,
# CurrencyCodeEnum, through ENUM_NAME_OVERRIDES).
ISO_4217_SORTED = tuple(sorted(ISO_4217))


def currency_problem(code: object) -> str | None:
    """Why ``code`` is not a currency an exchange rate may name; None when it is one."""
    if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isupper():
        return "Must be a three-letter ISO 4217 code in capitals, e.g. EUR."
    if code not in ISO_4217:
        return f"{code} is not an ISO 4217 currency code."
    return None
