"""Fixed demo customers that README, tests and demos can name: same 户号 and mobile for any seed.

Account numbers are 10 digits: "04" (固原市) + district code + a serial; generated customers
always use serials from 100000 up, so these low serials never collide with them.
"""
from __future__ import annotations

# role -> (account_no, mobile)
SHOWCASE: dict[str, tuple[str, str]] = {
    "area_outage": ("0401000001", "13900000001"),
    "area_outage_neighbour": ("0401000002", "13900000002"),
    "household_outage": ("0401000003", "13900000003"),
    "household_outage_rural": ("0402000004", "13900000004"),
    "normal": ("0401000005", "13900000005"),
    "low_voltage": ("0404000006", "13900000006"),
    "overloaded_area": ("0405000007", "13900000007"),
    "commercial": ("0401000008", "13900000008"),
    "arrears": ("0403000009", "13900000009"),
    "planned_outage": ("0401000010", "13900000010"),
    "multi_account": ("0401000011", "13900000011"),
    "multi_account_second": ("0405000012", "13900000011"),
}

# Further fixed customers the live situations need (more single-household outages, a second
# low-voltage household); listed by `python -m api.demo accounts` under their own heading.
EXTRA_ACCOUNTS: dict[str, tuple[str, str]] = {
    "household_outage_3": ("0403000013", "13900000013"),
    "household_outage_4": ("0405000014", "13900000014"),
    "household_outage_5": ("0402000015", "13900000015"),
    "low_voltage_2": ("0404000016", "13900000016"),
}

ROLE_LABELS: dict[str, tuple[str, str]] = {
    "area_outage": ("台区故障停电中的居民", "resident in the transformer area that is out now"),
    "area_outage_neighbour": ("同一停电台区的另一户", "another customer of the same dark area"),
    "household_outage": ("单户停电（城区）", "single-household outage, urban"),
    "household_outage_rural": ("单户停电（农村）", "single-household outage, rural"),
    "normal": ("供电正常的城区居民（原州区）", "healthy urban resident in 原州区"),
    "low_voltage": ("低电压用户（约185伏）", "low-voltage household (~185 V)"),
    "overloaded_area": ("重过载台区内的居民", "resident of the overloaded area"),
    "commercial": ("三相一般工商业用户", "three-phase commercial customer"),
    "arrears": ("欠费用户（余额为负）", "customer in arrears (negative balance)"),
    "planned_outage": ("正在计划停电台区的居民", "resident of the area under a planned outage now"),
    "multi_account": ("一个手机号名下两个户号（其一）", "one mobile, two accounts (first)"),
    "multi_account_second": ("一个手机号名下两个户号（其二）", "one mobile, two accounts (second)"),
    "household_outage_3": ("单户停电（隆德县）", "single-household outage, 隆德县"),
    "household_outage_4": ("单户停电（彭阳县）", "single-household outage, 彭阳县"),
    "household_outage_5": ("单户停电（西吉县）", "single-household outage, 西吉县"),
    "low_voltage_2": ("低电压用户（同台区第二户）", "second low-voltage household, same area"),
}

HOUSEHOLD_OUTAGE_ROLES = (
    "household_outage", "household_outage_rural",
    "household_outage_3", "household_outage_4", "household_outage_5",
)
LOW_VOLTAGE_ROLES = ("low_voltage", "low_voltage_2")


def fixed_accounts() -> dict[str, tuple[str, str]]:
    """Every fixed role -> (account_no, mobile): SHOWCASE first, then the extras."""
    return {**SHOWCASE, **EXTRA_ACCOUNTS}
