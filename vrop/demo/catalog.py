"""Static material of the demo company: who, what it sells, to whom, and in which words.

Prices are roubles per tonne without VAT, in the range of the Moscow region's metal
trade in 2025–2026 (rebar about 50 000 ₽/t, sheet 60–90 000, pipe 70–80 000, beams
about 90 000). Cost ratios keep the margin at list prices between 10 and 14 %, so that a
discount over about 4 % pushes a line under the minimum margin of 8 %.
"""

from __future__ import annotations

from dataclasses import dataclass

PASSWORD = "demo12345"
EMAIL_DOMAIN = "demo.vrop"

COMPANY = {
    "name": "ООО «СтальТрейд»",
    "inn_prefix": "772845190",
    "kpp": "772801001",
    "address": "117342, г. Москва, ул. Профсоюзная, д. 65, корп. 1, офис 402",
    "phone": "+7 (495) 640-18-20",
    "bank_details": (
        "р/с 40702810938000123456 в ПАО Сбербанк, г. Москва\n"
        "к/с 30101810400000000225, БИК 044525225"
    ),
}
COMPANY_SHORT = "СтальТрейд"


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    female: bool = False


OWNER = Person("Виктор", "Соколов")
HEAD = Person("Ирина", "Волкова", True)
FINANCE = Person("Марина", "Орлова", True)
SUPPLY = Person("Павел", "Зайцев")

# The eight managers of scale 1, in the order of BEHAVIOURS in behaviours.py.
MANAGERS = [
    Person("Алексей", "Смирнов"),
    Person("Дмитрий", "Козлов"),
    Person("Сергей", "Морозов"),
    Person("Андрей", "Лебедев"),
    Person("Ольга", "Новикова", True),
    Person("Наталья", "Фёдорова", True),
    Person("Максим", "Егоров"),
    Person("Екатерина", "Павлова", True),
]

MALE_FIRST = [
    "Александр", "Михаил", "Иван", "Николай", "Евгений", "Артём", "Роман", "Владимир",
    "Олег", "Игорь", "Константин", "Денис", "Кирилл", "Юрий", "Антон", "Вадим",
]  # fmt: skip
FEMALE_FIRST = [
    "Анна", "Елена", "Мария", "Татьяна", "Светлана", "Юлия", "Ксения", "Дарья",
    "Виктория", "Алина", "Людмила", "Вера",
]  # fmt: skip
SURNAMES = [
    "Иванов", "Кузнецов", "Попов", "Васильев", "Петров", "Соловьёв", "Михайлов",
    "Фролов", "Алексеев", "Белов", "Медведев", "Никитин", "Захаров", "Сорокин",
    "Гусев", "Тихонов", "Комаров", "Киселёв", "Макаров", "Андреев", "Ковалёв",
    "Ильин", "Гришин", "Степанов", "Борисов", "Яковлев", "Григорьев", "Романов",
]  # fmt: skip
PATRONYMIC_INITIALS = "АБВГДЕИКМНОПРСТЮ"


def surname(base: str, female: bool) -> str:
    if not female:
        return base
    if base.endswith(("ов", "ев", "ёв", "ин")):
        return base + "а"
    return base


TEAM_NAMES = ["Отдел продаж 1", "Отдел продаж 2"]

# --- clients ----------------------------------------------------------------------------

NAME_ROOTS_1 = [
    ("Строй", "stroy"), ("Пром", "prom"), ("Тех", "teh"), ("Метал", "metal"),
    ("Сталь", "stal"), ("Гранд", "grand"), ("Урал", "ural"), ("Волга", "volga"),
    ("Север", "sever"), ("Альфа", "alfa"), ("Вектор", "vektor"), ("Мега", "mega"),
    ("Монолит", "monolit"), ("Профи", "profi"), ("Регион", "region"), ("Спец", "spec"),
    ("Техно", "tehno"), ("Энерго", "energo"), ("Центр", "centr"), ("Гидро", "gidro"),
]  # fmt: skip
NAME_ROOTS_2 = [
    ("ресурс", "resurs"), ("монтаж", "montazh"), ("комплект", "komplekt"), ("снаб", "snab"),
    ("инвест", "invest"), ("проект", "proekt"), ("сервис", "servis"), ("трейд", "trade"),
    ("строй", "stroy"), ("групп", "group"), ("альянс", "alyans"), ("маш", "mash"),
    ("бетон", "beton"), ("каркас", "karkas"), ("холдинг", "holding"),
]  # fmt: skip
LEGAL_FORMS = ["ООО", "ООО", "ООО", "АО", "ООО ПКФ", "ООО ТД"]
CITIES = [
    "Москва", "Подольск", "Химки", "Мытищи", "Балашиха", "Люберцы", "Домодедово",
    "Тула", "Калуга", "Рязань", "Тверь", "Владимир", "Серпухов", "Коломна",
]  # fmt: skip
SEGMENTS = ["Строительство", "Производство", "Металлоторговля", "Монтаж и ремонт"]
POSITIONS = ["Снабженец", "Главный инженер", "Директор", "Менеджер по закупкам", "Прораб"]

# --- products ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductSpec:
    category: str
    name: str
    list_price: int  # ₽ per tonne without VAT, at the price index 1.0
    cost_ratio_bp: int  # cost = list × ratio / 10 000


def _products() -> list[ProductSpec]:
    items: list[ProductSpec] = []
    rebar = [(8, 57500), (10, 54500), (12, 52000), (14, 51500), (16, 51000), (18, 51000),
             (20, 51000), (22, 51500), (25, 52000), (28, 52500), (32, 53500)]  # fmt: skip
    for n, (diameter, price) in enumerate(rebar):
        items.append(
            ProductSpec("Арматура", f"Арматура А500С ⌀{diameter} мм", price, 8750 + n % 4 * 50)
        )
    for n, diameter in enumerate((6, 8, 10)):
        items.append(ProductSpec("Арматура", f"Арматура А240 ⌀{diameter} мм", 60500, 8700 + n * 50))
    hot = [(2, 66500), (3, 64500), (4, 63500), (5, 63000), (6, 62500), (8, 62500), (10, 62500),
           (12, 63000), (16, 64000), (20, 65000)]  # fmt: skip
    for n, (thickness, price) in enumerate(hot):
        items.append(ProductSpec("Лист", f"Лист г/к {thickness} мм", price, 8700 + n % 3 * 100))
    for n, (thickness, price) in enumerate(((0.8, 77000), (1, 76000), (1.5, 75000), (2, 74500))):
        name = f"Лист х/к {str(thickness).replace('.', ',')} мм"
        items.append(ProductSpec("Лист", name, price, 8650 + n * 50))
    for thickness, price in ((0.5, 91000), (0.7, 89000)):
        name = f"Лист оцинкованный {str(thickness).replace('.', ',')} мм"
        items.append(ProductSpec("Лист", name, price, 8600))
    profile = [("40×20×2", 76000), ("40×40×2", 75000), ("60×40×3", 73500), ("80×80×3", 73000),
               ("100×100×4", 72500)]  # fmt: skip
    for n, (size, price) in enumerate(profile):
        items.append(ProductSpec("Труба", f"Труба профильная {size}", price, 8750 + n % 2 * 100))
    for size, price in (("15×2,8", 82000), ("20×2,8", 80500), ("25×3,2", 79500), ("32×3,2", 79000)):
        items.append(ProductSpec("Труба", f"Труба ВГП {size}", price, 8800))
    welded = [("57×3,5", 75000), ("76×3,5", 74500), ("89×4", 74000), ("108×4", 74000),
              ("159×4,5", 75500)]  # fmt: skip
    for size, price in welded:
        items.append(ProductSpec("Труба", f"Труба электросварная {size}", price, 8850))
    angles = [("25×4", 73500), ("32×4", 72500), ("40×4", 71500), ("50×5", 70500), ("63×5", 70500),
              ("75×6", 71000), ("100×8", 72000)]  # fmt: skip
    for n, (size, price) in enumerate(angles):
        items.append(ProductSpec("Уголок", f"Уголок {size}", price, 8700 + n % 3 * 100))
    for n, (size, price) in enumerate(
        (
            ("8П", 80000),
            ("10П", 78500),
            ("12П", 77500),
            ("14П", 77000),
            ("16П", 77000),
            ("20П", 78000),
        )
    ):
        items.append(ProductSpec("Швеллер", f"Швеллер {size}", price, 8750 + n % 2 * 100))
    for n, (size, price) in enumerate(
        (("20Б1", 88000), ("25Б1", 89500), ("30Б1", 91000), ("35Б1", 93000), ("40Б1", 95000))
    ):
        items.append(ProductSpec("Балка", f"Балка двутавровая {size}", price, 8800 + n % 2 * 100))
    return items


PRODUCTS = _products()
CATEGORIES = ["Арматура", "Лист", "Труба", "Уголок", "Швеллер", "Балка"]
# How often each category is asked for (rebar leads in construction).
CATEGORY_WEIGHTS = [38, 20, 18, 10, 7, 7]

# --- deals ------------------------------------------------------------------------------

CHANNELS = ["phone", "email", "website", "messenger", "repeat", "referral", "tender"]
CHANNEL_WEIGHTS = [34, 24, 15, 10, 11, 4, 2]
CALL_CHANNELS = {"phone", "messenger", "website", "repeat", "referral", "tender"}

LOST_PRICE = "Цена: у конкурента дешевле"
LOST_LEAD_TIME = "Срок поставки не устроил"
LOST_NO_STOCK = "Нет в наличии нужной позиции"
LOST_COMPETITOR = "Клиент купил у конкурента"
LOST_NO_ANSWER = "Клиент не выходит на связь"

TASK_FIRST_CONTACT = "Связаться с клиентом по заявке"
TASK_QUOTE = "Подготовить и отправить КП"
TASK_DECISION = "Уточнить решение по КП"

REQUEST_DECLINE_REASONS = [
    "Спам",
    "Не наш профиль: нержавеющая сталь",
    "Дубль заявки",
    "Частное лицо, объём меньше 100 кг",
]

INBOX_TEXTS = [
    "Нужна арматура А500С ⌀12, 8 т, доставка в {city}. Выставьте счёт.",
    "Прошу КП на лист г/к 10 мм, 5 т, и уголок 50×5, 2 т.",
    "Сколько стоит труба профильная 80×80×3? Нужно 3 т на этой неделе.",
    "Нужны балки 30Б1, 12 шт по 12 м, с доставкой на объект в {city}.",
    "Есть ли в наличии швеллер 16П? Объём около 4 т.",
    "Запрос цены: арматура ⌀16 и ⌀20 по 10 т, оплата с отсрочкой.",
    "Перезвоните, пожалуйста, по металлу для каркаса склада.",
    "Тендер на поставку металлопроката, документация во вложении.",
]
