"""The managers' documented behaviours, as the numbers that drive the simulator.

Each manager of the demo follows one behaviour; at ``--scale N`` the eight behaviours
repeat in every block of eight managers. Delays are in working minutes (lognormal:
the median and the spread ``sigma``); probabilities are per deal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentHabit:
    """When the clients of a manager pay a deferral invoice, in calendar days after due."""

    on_time_share: float  # pay between 5 days early and 2 days late
    mild_share: float  # pay mild_days late
    mild_days: tuple[int, int]
    late_days: tuple[int, int]  # the rest pay this late (some not yet, so overdue)


@dataclass(frozen=True)
class Behaviour:
    code: str
    description: str
    rate: float  # requests per working day at full speed
    first_contact_median: float  # working minutes from arrival to first contact
    first_contact_sigma: float
    quote_median: float  # working minutes from first contact to the quote sent
    quote_sigma: float
    p_contact: float  # the client is reached
    p_quote: float  # a quote is sent after contact
    p_win: float  # won after a quote
    discount_zero_share: float  # lines at list price
    discount_bp: tuple[int, int]  # otherwise a discount in basis points (1/100 %)
    no_next_step_share: float  # open deals left without an open task
    stuck_share: float  # quoted deals left undecided (open, next step overdue)
    deferral_share: float  # clients on deferral
    deferral_terms: tuple[int, ...]  # their payment terms, days
    payment: PaymentHabit
    call_style: str
    ramp_days: int = 0  # a new hire reaches full speed after this many days
    hired_days_ago: int = 0  # 0: a veteran (hired years ago)


NORMAL_PAYERS = PaymentHabit(0.86, 0.11, (3, 20), (30, 90))
LATE_PAYERS = PaymentHabit(0.22, 0.43, (6, 30), (30, 120))

CLOSER = Behaviour(
    code="closer",
    description="strong closer: answers fast, asks, summarises and agrees a dated next step",
    rate=11.5,
    first_contact_median=5,
    first_contact_sigma=0.6,
    quote_median=45,
    quote_sigma=0.6,
    p_contact=0.95,
    p_quote=0.85,
    p_win=0.52,
    discount_zero_share=0.6,
    discount_bp=(50, 200),
    no_next_step_share=0.0,
    stuck_share=0.01,
    deferral_share=0.5,
    deferral_terms=(14, 21, 30, 45),
    payment=NORMAL_PAYERS,
    call_style="strong",
)
DISCOUNTER = Behaviour(
    code="discounter",
    description="over-discounts: gives 2.5–8.5 % off list, many lines under the minimum margin",
    rate=11.0,
    first_contact_median=10,
    first_contact_sigma=0.7,
    quote_median=60,
    quote_sigma=0.7,
    p_contact=0.92,
    p_quote=0.82,
    p_win=0.46,
    discount_zero_share=0.1,
    discount_bp=(250, 850),
    no_next_step_share=0.05,
    stuck_share=0.02,
    deferral_share=0.5,
    deferral_terms=(14, 21, 30, 45),
    payment=NORMAL_PAYERS,
    call_style="discount",
)
SLOW = Behaviour(
    code="slow",
    description="answers requests slowly: first contact about an hour after arrival",
    rate=10.0,
    first_contact_median=55,
    first_contact_sigma=0.9,
    quote_median=240,
    quote_sigma=0.8,
    p_contact=0.82,
    p_quote=0.72,
    p_win=0.24,
    discount_zero_share=0.5,
    discount_bp=(50, 300),
    no_next_step_share=0.08,
    stuck_share=0.03,
    deferral_share=0.5,
    deferral_terms=(14, 21, 30, 45),
    payment=NORMAL_PAYERS,
    call_style="weak",
)
CARELESS = Behaviour(
    code="careless",
    description="leaves deals without next steps: most of his open deals have no open task",
    rate=10.0,
    first_contact_median=14,
    first_contact_sigma=0.9,
    quote_median=90,
    quote_sigma=0.8,
    p_contact=0.9,
    p_quote=0.78,
    p_win=0.3,
    discount_zero_share=0.5,
    discount_bp=(50, 300),
    no_next_step_share=0.65,
    stuck_share=0.15,
    deferral_share=0.5,
    deferral_terms=(14, 21, 30, 45),
    payment=NORMAL_PAYERS,
    call_style="careless",
)
LATE_PAYER = Behaviour(
    code="late_payer",
    description="gives deferral easily; her clients pay late and carry most of the overdue debt",
    rate=10.5,
    first_contact_median=11,
    first_contact_sigma=0.7,
    quote_median=70,
    quote_sigma=0.7,
    p_contact=0.92,
    p_quote=0.8,
    p_win=0.38,
    discount_zero_share=0.5,
    discount_bp=(50, 300),
    no_next_step_share=0.05,
    stuck_share=0.02,
    deferral_share=0.88,
    deferral_terms=(30, 45, 60),
    payment=LATE_PAYERS,
    call_style="lenient",
)
STEADY = Behaviour(
    code="steady",
    description="steady: keeps the rules, average speed and conversion",
    rate=11.0,
    first_contact_median=9,
    first_contact_sigma=0.7,
    quote_median=70,
    quote_sigma=0.7,
    p_contact=0.92,
    p_quote=0.8,
    p_win=0.37,
    discount_zero_share=0.5,
    discount_bp=(50, 300),
    no_next_step_share=0.03,
    stuck_share=0.02,
    deferral_share=0.5,
    deferral_terms=(14, 21, 30, 45),
    payment=NORMAL_PAYERS,
    call_style="average",
)
NEW_HIRE_RECENT = Behaviour(
    code="new_hire",
    description="new hire (3 months): ramping up, fewer requests, lower conversion",
    rate=9.0,
    first_contact_median=18,
    first_contact_sigma=0.8,
    quote_median=110,
    quote_sigma=0.8,
    p_contact=0.88,
    p_quote=0.75,
    p_win=0.24,
    discount_zero_share=0.4,
    discount_bp=(50, 400),
    no_next_step_share=0.1,
    stuck_share=0.03,
    deferral_share=0.45,
    deferral_terms=(14, 21, 30),
    payment=NORMAL_PAYERS,
    call_style="novice",
    ramp_days=120,
    hired_days_ago=95,
)
NEW_HIRE_EARLIER = Behaviour(
    code="new_hire",
    description="new hire (5 months): ramping up, fewer requests, lower conversion",
    rate=9.5,
    first_contact_median=15,
    first_contact_sigma=0.8,
    quote_median=95,
    quote_sigma=0.8,
    p_contact=0.9,
    p_quote=0.77,
    p_win=0.28,
    discount_zero_share=0.4,
    discount_bp=(50, 400),
    no_next_step_share=0.08,
    stuck_share=0.03,
    deferral_share=0.45,
    deferral_terms=(14, 21, 30),
    payment=NORMAL_PAYERS,
    call_style="novice",
    ramp_days=120,
    hired_days_ago=160,
)

BEHAVIOURS = [
    CLOSER,
    DISCOUNTER,
    SLOW,
    CARELESS,
    LATE_PAYER,
    STEADY,
    NEW_HIRE_RECENT,
    NEW_HIRE_EARLIER,
]

# Plan target = the manager's usual monthly fact × this factor (a closer beats the plan,
# the slow one falls short).
PLAN_FACTOR = {
    "closer": 0.95,
    "discounter": 1.1,
    "slow": 1.3,
    "careless": 1.2,
    "late_payer": 1.05,
    "steady": 1.02,
    "new_hire": 1.0,
}
# A new hire's plan in the months after hiring, as a share of the veterans' average.
RAMP_PLAN = [0.3, 0.45, 0.6, 0.75, 0.85, 0.95]
