"""Take the README's screenshots from the real app under Xvfb (synthetic data only).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/take_screenshots.py

Starts the embedded demo index, drives the real window (sign in with the demo account's
current one-time code, search, reason, record, lock) and saves PNGs next to this file.
Pass --scale 2 to check the layout at 200 % (saved with a -200 suffix), --review to take
only the index team's "Links to review" screens (signed in as indexteam.demo; it skips,
never decides, so the demo's review items stay).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="1")
    parser.add_argument("--review", action="store_true", help="only the review screens")
    args = parser.parse_args()
    os.environ["QT_SCALE_FACTOR"] = args.scale
    suffix = "" if args.scale == "1" else f"-{int(float(args.scale) * 100)}"

    import pyotp
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

    from cpdesk.app import Connection, build_app
    from cpdesk.demo import start_demo_index
    from cpdesk.policy import load_policy
    from cpdesk.records import AccessReason
    from cpdesk.session import LockReason, SessionState
    from cpdesk.ui.inbox import InboxPanel
    from cpdesk.ui.involvement_dialog import InvolvementDialog
    from cpdesk.ui.reason_dialog import ReasonDialog
    from cpindex.seed.demo import DEMO_PASSWORD, FIXED_CHILDREN, demo_account

    def wait(cond: Callable[[], bool], seconds: float = 30) -> None:
        end = time.monotonic() + seconds
        while not cond():
            QApplication.processEvents()
            if time.monotonic() > end:
                raise TimeoutError("the app did not get there in time")
            time.sleep(0.01)

    def settle() -> None:
        for _ in range(30):
            QApplication.processEvents()
            time.sleep(0.01)

    def save(name: str) -> None:
        settle()
        app.window.grab().save(str(HERE / f"{name}{suffix}.png"))
        print("saved", name + suffix)

    def save_screen(name: str) -> None:
        settle()
        screen = QGuiApplication.primaryScreen()
        geo = app.window.frameGeometry()
        shot = screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
        shot.save(str(HERE / f"{name}{suffix}.png"))
        print("saved", name + suffix)

    def send_notice(text: str, shot: str = "") -> None:
        from cpdesk.ui.notice_dialog import NoticeDialog

        app.window.work.record.send_notice.click()
        dialog = [d for d in app.window.findChildren(NoticeDialog) if d.isVisible()][-1]
        dialog.text.setPlainText(text)
        if shot:
            dialog.move(app.window.x() + 360, app.window.y() + 80)
            save_screen(shot)
        dialog.send.click()
        note = app.window.work.record.note
        wait(lambda: note.text().startswith("Notice sent"))

    def open_first(panel: InboxPanel) -> None:
        panel.list.setCurrentRow(0)
        panel.list.itemActivated.emit(panel.list.item(0))
        wait(lambda: panel.current is not None)

    def type_unlock() -> None:
        panel = app.window.lock_panel
        panel.password.setText(DEMO_PASSWORD)
        panel.password.returnPressed.emit()
        wait(lambda: app.session.state is SessionState.ACTIVE)

    def sign_in_as(username: str) -> None:
        app.controller.sign_out()
        wait(lambda: app.session.state is SessionState.SIGNED_OUT)
        page = app.window.signin
        page.username.setText(username)
        page.password.setText(DEMO_PASSWORD)
        page.otp.setText(pyotp.TOTP(demo_account(username).totp_secret).now())
        page.button.click()
        wait(lambda: app.session.state is SessionState.ACTIVE)

    index = start_demo_index(say=lambda _line: None)
    try:
        policy = load_policy(HERE / "no-policy", environ={})
        connection = Connection(index.base_url, str(index.ca_cert), (index.spki_pin,))
        app = build_app(policy, connection, demo=True)
        app.session.tighten_idle_lock(3600)
        app.window.resize(1280, 820)
        app.window.move(20, 20)
        app.window.show()
        wait(app.window.isVisible)
        app.window.activateWindow()
        app.window.signin.focus_first()
        if args.review:
            return review_shots(app, wait, save, demo_account("indexteam.demo"))
        save("sign-in")

        page = app.window.signin
        page.password.setText(DEMO_PASSWORD)
        page.otp.setText(pyotp.TOTP(demo_account("nurse.demo").totp_secret).now())
        page.button.click()
        wait(lambda: app.session.state is SessionState.ACTIVE)

        olivia = next(
            c for c in FIXED_CHILDREN if c.family == "Smithfield" and c.given[0] == "Olivia"
        )
        form = app.window.work.form
        form.given.setText("Olivia")
        form.family.setText("Smithfeild")  # a misspelling: fuzzy matching finds her
        form.dob.day.setText("14")
        form.dob.month.setText("3")
        form.dob.year.setText("2011")
        form.submit()
        wait(lambda: app.window.work.results.table.isVisible())
        save("search-results")

        form.dob.month.setText("")
        form.submit()
        save("search-error")
        form.dob.month.setText("3")
        form.submit()
        wait(lambda: app.window.work.results.table.isVisible())

        results = app.window.work.results
        rows = [results.model.row(r).index_id for r in range(results.model.rowCount())]
        results.table.selectRow(rows.index(olivia.index_id))
        results.table.activated_row.emit(rows.index(olivia.index_id))
        dialog = app.window.findChild(ReasonDialog)
        wait(lambda: dialog.isVisible())
        dialog.move(app.window.x() + 380, app.window.y() + 120)
        save_screen("reason")
        dialog.buttons[AccessReason.EMERGENCY_CARE].setChecked(True)
        dialog.ok.click()
        work = app.window.work
        wait(lambda: work.stack.currentWidget() is work.record)
        save("record")
        bar = work.record.scroller.verticalScrollBar()
        bar.setValue(bar.maximum())
        save("record-practitioners")
        send_notice(
            "Attended Northgate A&E 02:14, intoxicated, discharged to mother. Third "
            "attendance this term.",
            shot="notice-send",
        )

        # "I am working with this child": the dialog, the record with the row, then ended
        # again, so the demo index is left as it was.
        work.record.declare.click()
        declare = app.window.findChild(InvolvementDialog)
        wait(lambda: declare.isVisible())
        declare.role.setText("Youth worker")
        declare.since.setDate(declare.since.date().addMonths(-2))
        declare.phone.setText("0113 496 0777")
        declare.email.setText("sam.okafor@example.nhs.uk")
        declare.move(app.window.x() + 380, app.window.y() + 80)
        save_screen("involvement-dialog")
        declare.ok.click()
        wait(lambda: not declare.isVisible())
        settle()
        mine = next(c for c in work.record.involvements.cards if c.action_target)
        work.record.scroller.ensureWidgetVisible(mine, 0, 40)
        save("record-self-declared")
        assert mine.action is not None
        mine.action.click()
        question = app.window.findChild(QMessageBox, "end-involvement-question")
        wait(lambda: question.isVisible())
        save_screen("end-involvement")
        question.findChild(QPushButton, "end-involvement-yes").click()
        wait(lambda: not [c for c in work.record.involvements.cards if c.action_target])

        work.record.back.click()
        jayden = next(c for c in FIXED_CHILDREN if c.shielded)
        form.given.setText(jayden.given[0])
        form.family.setText(jayden.family)
        form.dob.set_date(jayden.birth_date)
        form.submit()
        wait(
            lambda: (
                app.window.work.results.table.isVisible()
                and results.model.rowCount() > 0
                and results.model.row(0).display_name.startswith(jayden.given[0])
            )
        )
        rows = [results.model.row(r).index_id for r in range(results.model.rowCount())]
        results.table.activated_row.emit(rows.index(jayden.index_id))
        dialog = [d for d in app.window.findChildren(ReasonDialog) if d.isVisible()][-1]
        dialog.ok.click()
        wait(lambda: work.stack.currentWidget() is work.record)
        save("shielded")
        send_notice("Seen in A&E tonight; please put me in touch with his social worker.")

        app.session.lock(LockReason.MANUAL)
        save("locked")
        type_unlock()

        # The index team's queue, then the social worker's inbox (demo links: cpdesk/demo.py)
        sign_in_as("indexteam.demo")
        inbox = app.inbox
        assert inbox is not None
        wait(lambda: inbox.count.isVisible() and inbox.count.text() != "")
        inbox.open_inbox()
        panel = inbox.panel
        wait(lambda: panel.list.count() > 0)
        save("inbox-team")
        open_first(panel)
        save("notice-team")
        panel.relay.click()  # no record open: to the lead professional
        from cpdesk.ui.notice_dialog import NoticeDialog

        [d for d in app.window.findChildren(NoticeDialog) if d.isVisible()][-1].send.click()
        wait(lambda: panel.message.text().startswith("Passed on"))
        sign_in_as("social.demo")
        wait(lambda: inbox.count.text().endswith("new notices"))
        save("inbox-count")
        inbox.open_inbox()
        panel = inbox.panel  # the new workspace's
        wait(lambda: panel.list.count() > 1)
        save("inbox")
        open_first(panel)
        save("notice")
        app.window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        app.shutdown()
    finally:
        index.stop()
    return 0


def review_shots(app, wait, save, account) -> int:  # type: ignore[no-untyped-def]
    """Sign in as the index team and take the review screen: a child, then a shielded one."""
    import pyotp

    from cpdesk.session import SessionState
    from cpindex.seed.demo import DEMO_PASSWORD

    page = app.window.signin
    page.username.setText(account.username)
    page.password.setText(DEMO_PASSWORD)
    page.otp.setText(pyotp.TOTP(account.totp_secret).now())
    page.button.click()
    wait(lambda: app.session.state is SessionState.ACTIVE)
    app.window.work.review_button.click()
    review = app.window.review_page
    wait(lambda: review.position.text().startswith("Link 1 of"))
    save("review")
    review.skip.click()
    wait(lambda: review.position.text().startswith("Link 2 of"))
    save("review-shielded")
    app.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
