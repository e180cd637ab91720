"""Writes the escalation scenario set: 10 clients of the agency «Пульс», 28 Sep – 26 Nov 2026.

Deterministic, stdlib only. Outputs (committed): mail/scenarios.mbox, telegram/<client>/result.json,
clients.yaml, clientpulse.yaml. expected.yaml (hand-written) lists the flags and mood trends at AS_OF.
Run: python tests/data/scenarios/build_scenarios.py
"""

from __future__ import annotations

import json
import mailbox
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
MSK = ZoneInfo("Europe/Moscow")
YEAR = 2026
OUR = ("Ольга Кузнецова", "olga@pulse-agency.ru", "user900100")

# client id -> (name, channel, contact name, contact e-mail or telegram id, contract_end, story)
# story lines: "MM-DD HH:MM c|u text" — c: the client writes, u: we write.
CLIENTS: dict[str, tuple[str, str, str, str, str | None, str]] = {}


def client(cid, name, channel, contact, address, contract_end, story):
    CLIENTS[cid] = (name, channel, contact, address, contract_end, story)


def routine(start: str, weeks: int, client_lines: list[str], our_lines: list[str], days=(0, 3)) -> str:
    """Regular calm exchanges: on the given weekdays of ``weeks`` weeks from the Monday ``start`` (MM-DD)."""
    monday = datetime(YEAR, *map(int, start.split("-")))
    lines, n = [], 0
    for week in range(weeks):
        for weekday in days:
            day = monday + timedelta(weeks=week, days=weekday)
            lines.append(f"{day:%m-%d} 10:{10 + n % 40:02d} c {client_lines[n % len(client_lines)]}")
            lines.append(f"{day:%m-%d} 11:{20 + n % 30:02d} u {our_lines[n % len(our_lines)]}")
            n += 1
    return "\n".join(lines)


CALM_IN = [
    "Добрый день! Получили отчёт за неделю, вопросов нет.",
    "Согласовали баннеры, можно запускать.",
    "Пришлите, пожалуйста, счёт за следующий месяц.",
    "Спасибо, всё получили.",
    "Добрый день, подтверждаем план публикаций на неделю.",
    "Отчёт посмотрели, всё понятно.",
]
CALM_OUT = [
    "Принято, спасибо!",
    "Запускаем сегодня.",
    "Счёт направим сегодня.",
    "Хорошо, держим в курсе.",
    "Спасибо, работаем.",
]
HAPPY_IN = [
    "Спасибо большое, отличная работа!",
    "Результаты радуют, заявок стало заметно больше. Спасибо команде!",
    "Очень довольны новым лендингом, коллеги в восторге.",
    "Супер, спасибо за оперативность!",
]

# 1. A conflict in late October, fixed; a happy client since: nothing may stay flagged.
client(
    "alfa",
    "ООО «Альфа-Строй»",
    "mail",
    "Дмитрий Орлов",
    "orlov@alfa-stroy.ru",
    None,
    routine("09-28", 4, CALM_IN, CALM_OUT)
    + """
10-27 10:05 c Ольга, добрый день. Кампания стоит третий день, заявок ноль. Мы очень недовольны, второй срыв за месяц.
10-27 12:30 u Дмитрий, приносим извинения: слетела оплата в рекламном кабинете. Восстановили, кампании работают.
10-29 09:40 c Если ещё раз такое повторится — расторгнем договор. Нам нужна стабильная работа.
10-29 11:00 u Понимаем. Поставили ежедневную проверку баланса и уведомления, ответственный — Ольга.
11-09 10:15 c Ольга, добрый день! Неделя без сбоев, заявки пошли, спасибо, что быстро исправили.
11-09 11:00 u Спасибо, Дмитрий! Рады, что всё наладилось.
11-12 10:20 c Отчёт отличный, руководство довольно. Спасибо!
11-12 11:05 u Спасибо за обратную связь!
11-17 10:30 c Спасибо большое, отличная работа! Заявок больше, чем в прошлом году.
11-17 12:00 u Спасибо, Дмитрий, передам команде.
11-20 10:10 c Очень довольны результатами за месяц, продолжаем в том же духе.
11-20 11:40 u Спасибо! Пришлём план на декабрь до пятницы.
11-24 10:05 c Спасибо за план, всё согласовали. Отличная работа!
11-24 10:40 u Спасибо, запускаем.
""",
)

# 2. Blunt, slangy, caps and emoji, but happy all along: nothing may be flagged.
client(
    "bravo",
    "Барбершоп «Бритва»",
    "telegram",
    "Макс Бритвин",
    "user700200",
    None,
    """
09-29 12:10 c здорово! ну чё, погнали с рекламой, всё норм 👍
09-29 12:30 u Привет! Запускаем сегодня.
10-02 19:05 c блин, вы монстры, записей полно 🔥🔥
10-02 19:20 u Ура, рады!
10-06 13:00 c ЖЕСТЬ как круто вышло видео, пацаны в восторге
10-06 13:10 u Спасибо, передам монтажёру!
10-09 18:40 c норм, счёт кидайте, оплатим
10-09 18:45 u Счёт во вложении.
10-14 11:11 c офигенно, клиентов реально больше стало, красавчики
10-14 11:30 u Спасибо, Макс!
10-20 16:00 c слушайте, а сторис тоже сделаете? хочу ещё
10-20 16:20 u Да, пришлём варианты.
10-27 10:00 c огонь, берём все три варианта 🔥
10-27 10:15 u Супер, в работу.
11-03 12:00 c короче всё чётко, спасибо, продлеваем на следующий месяц
11-03 12:05 u Спасибо!
11-10 15:30 c блин, ну вы даёте, запись на две недели вперёд 😂
11-10 15:40 u Отличные новости!
11-17 13:00 c всё норм, счёт оплатил, работаем дальше
11-17 13:10 u Получили, спасибо!
11-23 20:00 c чёрт, как же круто получилось с акцией, спасибо 🙌
11-24 10:00 u Спасибо, Макс, рады стараться!
""",
)

# 3. Mood slides week by week from happy to disappointed: mood_decline, trend worsening.
client(
    "delta",
    "ООО «Дельта Фарм»",
    "mail",
    "Ирина Смолина",
    "smolina@deltapharm.ru",
    None,
    """
09-29 10:00 c Ольга, спасибо, отличный старт кампании! Очень довольны.
09-29 11:00 u Спасибо, Ирина!
10-02 10:00 c Отчёт прекрасный, всё понятно, спасибо.
10-02 11:00 u Рады, что понравилось.
10-07 10:00 c Спасибо за оперативность, баннеры отличные.
10-07 11:00 u Спасибо!
10-12 10:00 c Отличная работа, руководство довольно результатом.
10-12 11:00 u Спасибо, Ирина, передадим команде.
10-19 10:00 c Добрый день. Получили отчёт, посмотрим.
10-19 11:00 u Хорошо, ждём вопросов.
10-26 10:00 c Добрый день. Пришлите, пожалуйста, счёт за ноябрь.
10-26 11:00 u Счёт во вложении.
11-02 10:00 c Ольга, в отчёте снова ошибки в цифрах, пересчитайте, пожалуйста. Это неприятно.
11-02 11:00 u Извините, исправим сегодня.
11-09 10:00 c Качество работы заметно упало. Тексты с ошибками, макеты присылаете с опозданием. Мы разочарованы.
11-09 11:00 u Ирина, приносим извинения, разберёмся.
11-13 10:00 c Опять сорвали срок по баннерам. Это уже не первый раз, сколько можно.
11-13 11:00 u Извините, сдадим завтра до обеда.
11-17 10:00 c Очень недовольны. Результатов нет, отчёты с ошибками, на вопросы отвечаете через день.
11-17 11:00 u Ирина, давайте созвонимся и разберём всё по пунктам.
11-20 10:00 c Созвон ничего не изменил. Мы разочарованы работой агентства.
11-20 11:00 u Понимаем, подготовим план исправлений.
11-24 10:00 c План так и не получили. Крайне недовольны, это неприемлемо.
11-24 11:00 u Ирина, план пришлём сегодня до 18:00.
""",
)

# 4. An active client goes quiet; our follow-ups get no answer: silence.
client(
    "echo",
    "ООО «Эхо Медиа»",
    "telegram",
    "Павел Громов",
    "user700400",
    None,
    routine("09-28", 6, CALM_IN, CALM_OUT, days=(0, 2, 4))
    + """
11-09 10:00 u Павел, добрый день! Прислали отчёт за октябрь, посмотрите, пожалуйста.
11-12 10:00 u Павел, напоминаю про отчёт и согласование бюджета на декабрь.
11-17 10:00 u Павел, добрый день! Нужно ваше согласование, иначе кампании встанут с 1 декабря.
11-23 10:00 u Павел, вы на связи? Позвоните, пожалуйста, когда будет удобно.
""",
)

# 5. Objections pile up, our answers are thin, the last one has no answer yet: objection_backlog.
client(
    "foxtrot",
    "ООО «Фокстрот»",
    "mail",
    "Анна Лисина",
    "lisina@foxtrot-shop.ru",
    None,
    routine("09-28", 5, CALM_IN, CALM_OUT)
    + """
11-02 10:00 c Ольга, посмотрели КП на следующий год. Честно говоря, дорого: бюджет урезали на четверть.
11-02 12:00 u Анна, понимаем. Подумаем, что можно сделать.
11-06 10:00 c И мы пока не видим результата от SEO: трафик почти не вырос.
11-06 12:00 u Посмотрим статистику.
11-11 10:00 c Кроме того, нам предложили дешевле в другом агентстве, рассматриваем их предложение.
11-11 12:00 u Понятно.
11-16 10:00 c Мы не уверены, что вы потянете запуск маркетплейса в такие сроки.
11-16 12:00 u Ольга на связи, обсудим.
11-20 10:00 c Решение будет принимать директор, ему нужно обоснование цены.
11-20 12:00 u Хорошо.
11-25 15:00 c Ольга, так что с ценой? Давайте вернёмся к этому вопросу в следующем квартале, сейчас не до этого.
""",
)

# 6. Contract ends 31 Dec; they announce a tender and will not renew on the same terms: renewal_risk.
client(
    "golf",
    "АО «Гольфстрим»",
    "mail",
    "Сергей Волков",
    "volkov@golfstream.ru",
    "2026-12-31",
    routine("09-28", 5, CALM_IN, CALM_OUT)
    + """
11-05 10:00 c Ольга, добрый день. Предупреждаю заранее: на следующий год по регламенту объявим тендер.
11-05 12:00 u Сергей, спасибо, что предупредили. Будем участвовать.
11-12 10:00 c На текущих условиях продлевать договор не будем: у конкурентов дешевле.
11-12 12:00 u Понимаем, подготовим новое предложение.
11-19 10:00 c Бюджет сокращён, ваши цены для нас дорого в любом случае.
11-19 12:00 u Сергей, пришлём расчёт с оптимизированным объёмом до пятницы.
11-24 10:00 c Получили расчёт, передали в закупки. Решение по тендеру в середине декабря.
11-24 11:00 u Спасибо, ждём.
""",
)

# 7. A calm client whose last week turns into complaints, a termination threat and lawyers.
client(
    "hotel",
    "ГК «Хотел Групп»",
    "telegram",
    "Елена Морозова",
    "user700700",
    None,
    routine("09-28", 6, CALM_IN, CALM_OUT)
    + """
11-19 10:00 c Ольга, сайт бронирования не работает с утра, мы теряем гостей!
11-19 10:30 u Елена, уже разбираемся.
11-20 09:30 c Опять сорвали сроки по мобильной версии. Сколько можно переносить?
11-20 10:00 u Извините, доделаем к понедельнику.
11-23 09:30 c Понедельник, ничего не готово. Если до пятницы не исправите — расторгнем договор.
11-23 10:00 u Елена, ставим двух разработчиков, держим вас в курсе.
11-24 09:30 c Наш юрист готовит претензию о возмещении убытков за дни простоя сайта.
11-24 10:00 u Елена, предлагаю созвониться сегодня с нашим директором.
11-25 09:30 c Сайт снова лёг. Это безобразие, вы срываете нам сезон.
11-25 10:00 u Восстановили, подробный отчёт пришлём сегодня.
""",
)

# 8. Questions on Friday evening and Monday, a chase on Tuesday, no answer from us: unanswered.
client(
    "india",
    "ИП Индира Каримова",
    "mail",
    "Индира Каримова",
    "indira.karimova@gmail.com",
    None,
    routine("09-28", 7, CALM_IN, CALM_OUT)
    + """
11-20 17:30 c Ольга, добрый вечер. Подскажите, когда запустим новогоднюю акцию? Нужно согласовать макеты.
11-23 10:00 c Ольга, добрый день. Повторю вопрос про новогоднюю акцию — макеты нужны до конца недели.
11-24 15:00 c Ольга, вы получили мои письма? Ответьте, пожалуйста, время уходит.
""",
)

# 9. A routine client who wrote after hours yesterday: waiting 0 business hours, nothing to flag.
client(
    "juliet",
    "ООО «Джульетта»",
    "telegram",
    "Юлия Ромашова",
    "user701000",
    None,
    routine("09-28", 8, CALM_IN, CALM_OUT)
    + """
11-25 18:30 c Ольга, добрый вечер. Пришлите, пожалуйста, акт за ноябрь, когда будет готов.
11-26 08:40 c И счёт на декабрь тоже, пожалуйста.
""",
)

# 10. An invoice dispute: refuses to pay, wants money back: payment_risk.
client(
    "kilo",
    "ООО «Кило Логистик»",
    "mail",
    "Виктор Лебедев",
    "lebedev@kilo-log.ru",
    None,
    routine("09-28", 6, CALM_IN, CALM_OUT)
    + """
11-10 10:00 u Виктор, добрый день! Направляем счёт № 512 за ноябрь на 180 000 ₽.
11-12 10:00 c Счёт № 512 оплачивать не будем: половина работ не выполнена.
11-12 12:00 u Виктор, давайте сверим перечень работ, пришлём акт с расшифровкой.
11-18 10:00 c Расшифровку посмотрели. Оплату приостанавливаем до перерасчёта, а за октябрь требуем вернуть деньги.
11-18 12:00 u Понимаем, передали руководству, ответим до пятницы.
11-23 10:00 c Ответа так и нет. Платить не будем, пока не вернёте деньги за октябрь.
11-23 12:00 u Виктор, завтра пришлём официальное предложение по перерасчёту.
""",
)


def _messages(story: str):
    for line in story.strip().splitlines():
        stamp, clock, who, text = line.split(" ", 3)
        month, day = map(int, stamp.split("-"))
        hour, minute = map(int, clock.split(":"))
        yield datetime(YEAR, month, day, hour, minute, tzinfo=MSK), who, text


def build() -> dict[str, int]:
    (HERE / "mail").mkdir(exist_ok=True)
    box_path = HERE / "mail" / "scenarios.mbox"
    box_path.unlink(missing_ok=True)
    box = mailbox.mbox(str(box_path))
    counts = {}
    for cid, (name, channel, contact, address, _end, story) in CLIENTS.items():
        messages = sorted(_messages(story), key=lambda m: m[0])
        counts[cid] = len(messages)
        if channel == "mail":
            for n, (when, who, text) in enumerate(messages):
                mail = EmailMessage()
                sender = f"{contact} <{address}>" if who == "c" else f"{OUR[0]} <{OUR[1]}>"
                mail["From"], mail["To"] = sender, (f"{OUR[0]} <{OUR[1]}>" if who == "c" else f"{contact} <{address}>")
                mail["Subject"] = f"{name}: работа" if n == 0 else f"Re: {name}: работа"
                mail["Date"] = format_datetime(when)
                mail["Message-ID"] = f"<{cid}-{n}@scenarios.test>"
                mail.set_content(f"{text}\n\n{contact if who == 'c' else OUR[0]}\n")
                box.add(mail)
        else:
            export = {"name": f"{name} × Пульс", "type": "private_group", "id": 5000 + len(counts), "messages": [
                {"id": n + 1, "type": "message", "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
                 "from": contact if who == "c" else OUR[0], "from_id": address if who == "c" else OUR[2],
                 "text": text}
                for n, (when, who, text) in enumerate(messages)]}  # fmt: skip
            folder = HERE / "telegram" / cid
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "result.json").write_text(json.dumps(export, ensure_ascii=False, indent=1) + "\n", "utf-8")
    box.flush()
    box.close()
    lines = ["# Generated by build_scenarios.py. See expected.yaml for what each client should raise.", "clients:"]
    for cid, (name, channel, _contact, address, end, _story) in CLIENTS.items():
        lines.append(f"  - id: {cid}")
        lines.append(f"    name: {name}")
        if channel == "mail":
            lines.append(f'    emails: ["{address}"]')
        else:
            lines.append(f'    telegram_chats: ["{name} × Пульс"]')
        lines.append(f"    manager: {OUR[1]}")
        if end:
            lines.append(f"    contract_end: {end}")
    (HERE / "clients.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    (HERE / "clientpulse.yaml").write_text(CONFIG, "utf-8")
    return counts


CONFIG = """\
# The scenario set (tests/insights/test_scenarios.py). Generated by build_scenarios.py.
database: sqlite:///data/clientpulse.db
timezone: Europe/Moscow
team:
  - name: Ольга Кузнецова
    emails: [olga@pulse-agency.ru]
    telegram: ["Ольга Кузнецова", "user900100"]
  - domain: "@pulse-agency.ru"
sources:
  - {kind: mbox, name: mail, path: mail/scenarios.mbox}
  - {kind: telegram, name: telegram, path: telegram}
clients: clients.yaml
escalation:
  reply_sla_hours: 8            # one working day, counted in business hours (Mon-Fri 9-18 MSK)
"""


if __name__ == "__main__":
    for cid, n in build().items():
        print(f"{cid}: {n} messages")
