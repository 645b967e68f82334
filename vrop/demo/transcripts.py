"""Synthetic Russian call transcripts that differ by the manager's behaviour.

They are written from phrase templates, not recorded: no real sales calls in Russian were
available (see docs/demo.md). The strong closer greets with the company and his name, asks
open questions about grade, volume, timing, delivery and budget, ties the offer to them,
answers «дорого» with value and ends with a summary and a dated next step; the slow one
answers «Алло», speaks with filler words («ну», «как бы», «короче», «типа»), asks one closed
question and leaves the price objection unanswered; the careless one agrees no next step;
the over-discounter answers every objection with a discount; the lenient one promises
deferral. Segments: ``{"speaker": "manager"|"client", "start": s, "end": s, "text": ...}``.
"""

from __future__ import annotations

import random

GREETING = {
    "strong": [
        "Добрый день! Компания «{company}», меня зовут {manager}. Как я могу к вам обращаться?",
    ],
    "average": ["Добрый день, компания «{company}», {manager}, слушаю вас."],
    "lenient": ["Добрый день, «{company}», {manager}. Слушаю вас внимательно."],
    "discount": ["Здравствуйте, «{company}», {manager}, чем могу помочь?"],
    "novice": ["Э-э, добрый день, компания «{company}», меня зовут {manager}."],
    "careless": ["«{company}», добрый день."],
    "weak": ["Алло. Да, слушаю."],
}
CLIENT_NAME = "{client}, из компании {client_company}."
RAPPORT = "{client}, очень приятно. Рад, что обратились к нам. Рассказывайте, что нужно?"
NEED = [
    "Нам нужен металл: {product}, примерно {qty}, с доставкой в {city}.",
    "Хотел узнать цену на {product}, объём {qty}, объект в {city}.",
    "Посчитайте, пожалуйста, {product}, {qty}. Доставка в {city}.",
]
QUESTIONS = [
    (
        "Какая марка стали и какие размеры нужны, по ГОСТу или по ТУ?",
        "По ГОСТу, размеры как в заявке, длина двенадцать метров.",
    ),
    (
        "На какой объект и к какому сроку нужна поставка?",
        "Строим склад в {city}, металл нужен к концу следующей недели.",
    ),
    (
        "Как вам удобнее: самовывоз или доставка нашим транспортом? Есть ограничения по въезду?",
        "Лучше доставкой, длинномер проедет.",
    ),
    (
        "Какой объём планируете на весь объект, не только на эту партию?",
        "Всего около {total} тонн, будем брать частями.",
    ),
    (
        "С кем сейчас работаете и что для вас важнее всего при выборе поставщика?",
        "Работаем с двумя поставщиками, для нас важны сроки и чтобы без пересортицы.",
    ),
    (
        "Какой бюджет закладываете и как планируете оплату?",
        "Бюджет жёсткий, по оплате хотели бы отсрочку.",
    ),
    (
        "Нужна ли резка в размер и сертификаты качества?",
        "Сертификаты обязательно, резка по шесть метров.",
    ),
]
WEAK_QUESTION = ("Ну, это самое, {category_lower}, да?", "Да, я же сказал: {product}.")
PRESENTATION = {
    "strong": (
        "Понял вас. {product_cap} есть на складе, отгрузим {day}, сертификаты приложим, "
        "доставим нашим транспортом прямо на объект в {city}. Цена {price}."
    ),
    "average": "{product_cap} есть в наличии, цена {price}, доставка {day}.",
    "lenient": "{product_cap} есть, цена {price}, можем отгрузить {day}.",
    "discount": "Есть, цена {price}, отгрузим {day}.",
    "novice": "Сейчас посмотрю… да, {product} есть, цена {price}.",
    "careless": "Есть, цена {price}.",
    "weak": "Ну, цена {price}, короче, доставка как бы отдельно считается.",
}
OBJECTIONS = [
    "Дорого. У других на две тысячи за тонну дешевле.",
    "Дорого как-то, нам предлагали дешевле.",
]
HANDLING = {
    "strong": [
        (
            "Понимаю. Давайте сравним: у нас цена с сертификатом и доставкой до объекта, "
            "без доплат за резку. Если возьмёте весь объём на объект, согласую полпроцента. "
            "Так будет выгоднее?",
            "Да, так уже интереснее.",
        )
    ],
    "average": [
        (
            "Цена рыночная, но я уточню у руководителя, что можно сделать по объёму.",
            "Хорошо, уточните.",
        )
    ],
    "lenient": [
        (
            "Зато отсрочку дадим без проблем, хоть шестьдесят дней, платите когда удобно.",
            "О, это хорошо, с отсрочкой нам подходит.",
        )
    ],
    "discount": [
        (
            "Хорошо, давайте я вам сразу скидку {discount} дам, только не уходите к ним.",
            "Ну вот, другое дело.",
        )
    ],
    "novice": [
        (
            "Э-э… ну, я могу уточнить, может, скидку какую-то сделаем.",
            "Ну уточните.",
        )
    ],
    "careless": [("Ну это рыночная цена.", "Понятно.")],
    "weak": [("Ну, как бы, такая цена, короче. Типа рынок сейчас такой.", "Понятно…")],
}
CLOSING = {
    "strong": (
        "Давайте подытожим: {product}, {qty}, доставка в {city} {day}, цена {price}. "
        "КП отправлю сегодня до {quote_time}, а {next_day} в {next_time} перезвоню "
        "подтвердить заказ. Договорились?",
        "Договорились, жду КП.",
    ),
    "average": (
        "Отправлю КП на почту сегодня и перезвоню {next_day} в {next_time}.",
        "Хорошо, до связи.",
    ),
    "lenient": (
        "Счёт с отсрочкой пришлю сегодня, созвонимся {next_day}.",
        "Отлично, спасибо.",
    ),
    "discount": (
        "Пришлю КП со скидкой сегодня, созвонимся {next_day} в {next_time}.",
        "Хорошо.",
    ),
    "novice": (
        "Я, э-э, подготовлю КП и отправлю, потом перезвоню.",
        "Хорошо, жду.",
    ),
    "careless": ("Хорошо, я посмотрю и как-нибудь наберу вам.", "Ну ладно."),
    "weak": ("Ну я вам, типа, скину там на почту что-нибудь, короче.", "Ладно, до свидания."),
}
FILLERS_WEAK = ["ну", "как бы", "короче", "типа", "это самое", "вот"]
FILLERS_NOVICE = ["э-э", "ну", "вот"]
QUESTION_COUNT = {
    "strong": (4, 5),
    "average": (2, 3),
    "lenient": (2, 3),
    "discount": (1, 2),
    "novice": (2, 3),
    "careless": (1, 2),
    "weak": (0, 0),
}
OBJECTION_SHARE = {"strong": 0.6, "weak": 0.8, "discount": 0.8}
WORDS_PER_SECOND = {"strong": 2.6, "weak": 1.9, "novice": 2.1}
DAYS = ["в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "завтра"]
NEXT_DAYS = ["завтра", "в понедельник", "в среду", "в пятницу", "послезавтра"]
TIMES = ["10:00", "11:00", "11:30", "14:00", "15:00", "16:30"]


def _with_fillers(text: str, rng: random.Random, fillers: list[str], share: float) -> str:
    words = text.split(" ")
    out: list[str] = []
    for n, word in enumerate(words):
        if n and rng.random() < share:
            out.append(rng.choice(fillers) + ",")
        out.append(word)
    return " ".join(out)


def build_transcript(rng: random.Random, style: str, context: dict) -> list[dict]:
    """The segments of one first call about a request, in the manager's style."""
    lines: list[tuple[str, str]] = []

    def manager(text: str) -> None:
        text = text.format(**context)
        if style == "weak":
            text = _with_fillers(text, rng, FILLERS_WEAK, 0.18)
        elif style == "novice":
            text = _with_fillers(text, rng, FILLERS_NOVICE, 0.06)
        lines.append(("manager", text))

    def client(text: str) -> None:
        lines.append(("client", text.format(**context)))

    manager(rng.choice(GREETING[style]))
    if style == "strong":
        client(CLIENT_NAME)
        manager(RAPPORT)
    client(rng.choice(NEED))
    low, high = QUESTION_COUNT[style]
    if style == "weak":
        question, answer = WEAK_QUESTION
        manager(question)
        client(answer)
    else:
        for question, answer in rng.sample(QUESTIONS, rng.randint(low, high)):
            manager(question)
            client(answer)
    manager(PRESENTATION[style])
    if rng.random() < OBJECTION_SHARE.get(style, 0.55):
        client(rng.choice(OBJECTIONS))
        reply, reaction = rng.choice(HANDLING[style])
        manager(reply)
        client(reaction)
    closing, reaction = CLOSING[style]
    manager(closing)
    client(reaction)

    segments = []
    clock = round(rng.uniform(0.3, 1.2), 1)
    manager_rate = WORDS_PER_SECOND.get(style, 2.4)
    for speaker, text in lines:
        rate = manager_rate if speaker == "manager" else 2.3
        duration = len(text.split()) / rate + rng.uniform(0.2, 0.8)
        start = clock
        end = round(start + duration, 1)
        segments.append({"speaker": speaker, "start": start, "end": end, "text": text})
        clock = round(end + rng.uniform(0.2, 1.1), 1)
    return segments
