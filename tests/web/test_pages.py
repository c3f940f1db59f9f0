"""The pages through the app on both databases, as a browser without JavaScript uses them: what
they show, the language and mode switch, signing in and out, applying and withdrawing, and the
guards (CSRF, other people's records, stale sessions)."""

from sqlalchemy import func, select

from booking.models import ApiToken, Application, User
from tests.learning import add_resident
from tests.web.site import RESIDENT, csrf_of, post_form, sign_in, text_of


async def applications(engine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(Application))


async def test_the_learning_map_lists_towns_communities_and_venues(site):
    page = await site.pages.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    words = text_of(page.text)
    assert '<html lang="zh-CN"' in page.text
    assert "向阳街道" in words and "东街社区" in words and "东街社区学校" in words
    assert "这里有 1 门课程" in words
    assert '<svg class="map"' in page.text and 'role="img"' in page.text
    assert f'href="/venues/{site.world.venue}"' in page.text


async def test_near_me_ranks_venues_by_distance(site):
    page = await site.pages.get("/?near=35.31,113.93")
    assert page.status_code == 200
    assert "距离 1.4 公里" in text_of(page.text)
    refused = await site.pages.get("/?near=north")
    assert refused.status_code == 422
    assert "操作没有成功" in text_of(refused.text)


async def test_the_catalogue_filters_like_the_api(site):
    monday = text_of((await site.pages.get("/classes?weekday=0&time_of_day=evening")).text)
    assert "找到 1 门课程" in monday and "书法入门" in monday
    assert "每周一 19:00–20:30" in monday and "王老师" in monday and "王建国" not in monday
    assert "剩余 2 个名额（共 2 个）" in monday
    tuesday = text_of((await site.pages.get("/classes?weekday=1")).text)
    assert "找到 0 门课程" in tuesday and "没有符合条件的课程" in tuesday
    elsewhere = text_of((await site.pages.get(f"/classes?region_id={site.world.other_community}")).text)
    assert "找到 0 门课程" in elsewhere
    keyword = text_of((await site.pages.get("/classes?q=书法&category=书画&target_group=老年人&has_seats=true")).text)
    assert "找到 1 门课程" in keyword


async def test_a_class_page_says_when_where_and_how_to_subscribe(site):
    page = await site.pages.get(f"/classes/{site.world.offer}")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "每周一 19:00–20:30" in words
    assert "2027年3月1日至2027年3月31日" in words
    assert "2027年3月1日 周一 19:00–20:30" in words  # the first of the five sessions
    assert "东街社区学校" in words and "东街 1 号" in words and "书法教室" in words
    assert "先到先得" in words and "登录后报名" in words
    assert f'href="webcal://testserver/feeds/classes/{site.world.offer}.ics"' in page.text
    assert f'value="http://testserver/feeds/classes/{site.world.offer}.ics"' in page.text
    assert 'aria-label="课程日历地址的二维码"' in page.text and "<path" in page.text


async def test_a_class_page_lists_the_dates_a_session_is_skipped(site, client):
    second = site.world.occurrences[1]
    cancelled = await client.post(
        f"/bookings/{site.world.booking}/occurrences/{second['id']}/cancel", json={"reason": "holiday"}
    )
    assert cancelled.status_code == 200, cancelled.text
    words = text_of((await site.pages.get(f"/classes/{site.world.offer}")).text)
    assert "以下日期不上课： 2027年3月8日 周一" in words
    assert "全部 4 次课" in words


async def test_unknown_class_and_page_are_404_pages_in_both_languages(site):
    missing = await site.pages.get("/classes/999999")
    assert missing.status_code == 404 and "找不到这个页面" in text_of(missing.text)
    english = await site.pages.get("/nowhere", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert english.status_code == 404 and "Page not found" in text_of(english.text)
    assert '<html lang="en"' in english.text
    api = await site.pages.get("/api/v1/classes/999999/enrolment-policy")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


async def test_the_language_follows_the_browser_until_the_switch_is_used(site):
    english = await site.pages.get("/classes", headers={"Accept-Language": "en"})
    assert "Find a class" in text_of(english.text) and "Mondays 19:00–20:30" in text_of(english.text)
    switched = await post_form(site.pages, "/classes", "/preferences", {"lang": "en", "back": "/classes?weekday=0"})
    assert switched.status_code == 303 and switched.headers["location"] == "/classes?weekday=0"
    assert "vs_lang=en" in switched.headers["set-cookie"]
    page = await site.pages.get(f"/classes/{site.world.offer}")
    assert '<html lang="en"' in page.text
    assert "Mon 1 March 2027, 19:00–20:30" in text_of(page.text)
    back = await post_form(site.pages, "/", "/preferences", {"lang": "zh", "back": "https://elsewhere.example/"})
    assert back.headers["location"] == "/"  # never sent to another site
    assert '<html lang="zh-CN"' in (await site.pages.get("/")).text


async def test_elder_mode_is_a_remembered_switch(site):
    assert 'class="standard"' in (await site.pages.get("/")).text
    switched = await post_form(site.pages, "/", "/preferences", {"elder": "1", "back": "/classes"})
    assert "vs_elder=1" in switched.headers["set-cookie"] and "HttpOnly" in switched.headers["set-cookie"]
    page = await site.pages.get("/classes")
    assert '<html lang="zh-CN" class="elder">' in page.text and "长辈模式：开" in text_of(page.text)


async def test_a_resident_signs_in_applies_and_withdraws(site, engine):
    signed = await sign_in(site.pages, RESIDENT["username"], RESIDENT["password"], f"/classes/{site.world.offer}")
    assert signed.headers["location"] == f"/classes/{site.world.offer}"
    cookie = signed.headers["set-cookie"]
    assert "vs_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    class_page = await site.pages.get(f"/classes/{site.world.offer}")
    assert "立即报名" in text_of(class_page.text)
    applied = await site.pages.post(f"/classes/{site.world.offer}/apply", data={"csrf_token": csrf_of(class_page.text)})
    assert applied.status_code == 303 and applied.headers["location"] == f"/me/classes?applied={site.world.offer}"
    mine = text_of((await site.pages.get(applied.headers["location"])).text)
    assert "报名成功" in mine and "书法入门" in mine and "您已获得这门课的名额" in mine
    assert await applications(engine) == 1
    again = await post_form(site.pages, "/me/classes", f"/classes/{site.world.offer}/apply", {})
    assert again.status_code == 409 and "您已经报过名了" in text_of(again.text)
    withdrawn = await post_form(site.pages, "/me/classes", f"/classes/{site.world.offer}/withdraw", {})
    assert withdrawn.headers["location"] == f"/me/classes?withdrawn={site.world.offer}"
    after = text_of((await site.pages.get(withdrawn.headers["location"])).text)
    assert "您已退课" in after and "您目前没有课程" in after and "已退课" in after


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site, engine):
    await sign_in(site.pages, RESIDENT["username"], RESIDENT["password"])
    for fields in ({}, {"csrf_token": "forged-token-forged-token-forged-token"}):
        refused = await site.pages.post(f"/classes/{site.world.offer}/apply", data=fields)
        assert refused.status_code == 403
        assert "表单没有提交成功" in text_of(refused.text) and "csrf_failed" in refused.text
    token = csrf_of((await site.pages.get("/me/classes")).text)
    elsewhere = await site.pages.post(
        f"/classes/{site.world.offer}/apply", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    assert await applications(engine) == 0


async def test_someone_elses_pages_are_404(site, engine, clock, client):
    other = await add_resident(engine, clock.now, site.world.community, http=client, name="张桂兰")
    await sign_in(site.pages, RESIDENT["username"], RESIDENT["password"])
    for path in (
        f"/me/record?resident={other.public_id}",
        f"/me/classes?resident={other.public_id}",
        f"/me/record/{site.world.offer}/badge.json?resident={other.public_id}",
        f"/me/record/{site.world.offer}/badge.json",  # not completed: no badge yet
    ):
        page = await site.pages.get(path)
        assert page.status_code == 404, path
        assert "张桂兰" not in page.text
    withdrawal = await post_form(
        site.pages, "/me/classes", f"/classes/{site.world.offer}/apply", {"resident": other.public_id}
    )
    assert withdrawal.status_code == 404
    assert await applications(engine) == 0


async def test_counter_staff_act_for_a_resident(site, client, engine):
    staff = {"username": "counter-wu", "password": "counter-pass-2027", "role": "venue_manager"}
    made = await client.post("/users", json={**staff, "organisation_id": site.world.school})
    assert made.status_code == 201, made.text
    await sign_in(site.pages, staff["username"], staff["password"])
    applied = await post_form(
        site.pages,
        f"/classes/{site.world.offer}?resident={site.resident_id}",
        f"/classes/{site.world.offer}/apply",
        {"resident": site.resident_id},
    )
    assert applied.status_code == 303, applied.text
    assert applied.headers["location"] == f"/me/classes?resident={site.resident_id}&applied={site.world.offer}" or (
        applied.headers["location"] == f"/me/classes?applied={site.world.offer}&resident={site.resident_id}"
    )
    mine = text_of((await site.pages.get(f"/me/classes?resident={site.resident_id}")).text)
    assert "您正在为 李秀英 办理" in mine and "书法入门" in mine
    async with engine.connect() as connection:
        channel = await connection.scalar(select(Application.channel))
    assert channel == "counter"


async def test_a_failed_sign_in_shows_the_problem_and_counts_against_the_account(site):
    failed = await post_form(site.pages, "/signin", "/signin", {"username": RESIDENT["username"], "password": "wrong"})
    assert failed.status_code == 401
    words = text_of(failed.text)
    assert "出现问题" in words and "用户名或密码不对" in words
    assert "<title>错误： 登录" in failed.text
    assert 'value="li-xiuying"' in failed.text  # what was typed is kept, the password is not
    assert "vs_session" not in failed.headers.get("set-cookie", "")


async def test_signing_out_ends_the_session_everywhere(site, engine):
    signed = await sign_in(site.pages, RESIDENT["username"], RESIDENT["password"])
    token = signed.cookies["vs_session"]
    out = await post_form(site.pages, "/me/classes", "/signout", {})
    assert out.status_code == 303 and out.headers["location"] == "/"
    site.pages.cookies.set("vs_session", token)  # an old copy of the cookie
    again = await site.pages.get("/me/classes")
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")
    api = await site.pages.get("/api/v1/me/applications", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    async with engine.connect() as connection:
        revoked = await connection.scalar(select(func.count()).where(ApiToken.revoked_at.is_not(None)))
    assert revoked == 1


async def test_pages_for_residents_ask_for_sign_in_first(site):
    for path in ("/me/classes", "/me/record", "/me/calendar"):
        page = await site.pages.get(path)
        assert page.status_code == 303 and page.headers["location"] == "/signin?next=" + path.replace("/", "%2F")


async def test_the_private_calendar_address_is_issued_once_and_revoked(site):
    await sign_in(site.pages, RESIDENT["username"], RESIDENT["password"])
    await post_form(site.pages, "/me/classes", f"/classes/{site.world.offer}/apply", {})
    assert "您还没有个人日历地址" in text_of((await site.pages.get("/me/calendar")).text)
    issued = await post_form(site.pages, "/me/calendar", "/me/calendar", {"action": "issue"})
    assert issued.status_code == 200
    address = issued.text.split('id="private-address" readonly value="', 1)[1].split('"', 1)[0]
    assert address.startswith("http://testserver/feeds/private/") and address.endswith(".ics")
    feed = await site.pages.get(address.removeprefix("http://testserver"))
    assert feed.status_code == 200 and feed.text.count("BEGIN:VEVENT") >= 1 and "书法入门" in feed.text
    later = text_of((await site.pages.get("/me/calendar")).text)
    assert "您在 2027年1月10日 周日 08:00 生成过地址" in later and address not in later
    revoked = await post_form(site.pages, "/me/calendar", "/me/calendar", {"action": "revoke"})
    assert revoked.status_code == 303
    assert (await site.pages.get(address.removeprefix("http://testserver"))).status_code == 404


async def test_the_learning_record_page_shows_each_class(site):
    await sign_in(site.pages, RESIDENT["username"], RESIDENT["password"])
    await post_form(site.pages, "/me/classes", f"/classes/{site.world.offer}/apply", {})
    words = text_of((await site.pages.get("/me/record")).text)
    assert f"学员编号：{site.resident_id}" in words
    assert "书法入门" in words and "已出勤 0.0 小时，共 7.5 小时" in words and "尚未开始" in words


async def test_a_venue_page_shows_spaces_hours_and_a_week_of_free_and_busy_time(site):
    page = await site.pages.get(f"/venues/{site.world.venue}?week=2027-03-01")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "书法教室" in words and "可容纳 30 人" in words
    assert "2027年3月1日 周一这一周" in words
    assert "19:00–20:30" in words and "书法入门" not in words  # busy, never by whom
    assert f"webcal://testserver/feeds/spaces/{site.world.space}.ics" in page.text
    far = await site.pages.get(f"/venues/{site.world.venue}?week=2035-01-01")
    assert far.status_code == 422


async def test_a_resident_gives_and_removes_the_address_mail_goes_to(site, engine):
    await sign_in(site.pages, RESIDENT["username"], RESIDENT["password"])

    wrong = await post_form(site.pages, "/me/calendar", "/me/mail", {"action": "save", "email": "li xiuying@qq"})
    assert wrong.status_code == 422
    assert "请输入正确的邮箱地址" in text_of(wrong.text) and 'aria-invalid="true"' in wrong.text
    assert 'value="li xiuying@qq"' in wrong.text  # what was typed stays, to be corrected
    saved = await post_form(site.pages, "/me/calendar", "/me/mail", {"action": "save", "email": "lxy@example.cn"})
    assert saved.status_code == 303 and saved.headers["location"] == "/me/calendar?mail=saved#mail"
    assert "已保存。课程的通知邮件会发到 lxy@example.cn。" in text_of(
        (await site.pages.get("/me/calendar?mail=saved")).text
    )
    async with engine.connect() as connection:
        assert (
            await connection.scalar(select(User.email).where(User.username == RESIDENT["username"])) == "lxy@example.cn"
        )

    removed = await post_form(site.pages, "/me/calendar", "/me/mail", {"action": "remove"})
    assert removed.headers["location"] == "/me/calendar?mail=removed#mail"
    assert await address_of(engine, RESIDENT["username"]) is None


async def address_of(engine, username: str) -> str | None:
    async with engine.connect() as connection:
        return await connection.scalar(select(User.email).where(User.username == username))
