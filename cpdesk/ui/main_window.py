"""The main window: draws what the controller tells it and hands the user's intents back.

Pages: sign-in, the workspace (search, results, record), the index team's review screen
(cpdesk/ui/review.py, destroyed at every lock) and the lock panel. It is the
`WorkView` of `cpdesk.controller.WorkController`, which decides everything (what to fetch,
what to show, what an error means, when to lock); the window only builds, fills and
empties widgets. A lock empties every widget with child data in the same event-loop turn
(the emptied workspace stays hidden behind the lock panel, to be refilled from the
controller's memory at unlock); a sign-out destroys it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QMainWindow,
    QStackedWidget,
    QToolTip,
    QWidget,
)

from cpdesk.controller import busy_text
from cpdesk.session import LocalPin
from cpdesk.ui.signin import SignInPage
from cpdesk.ui.statusbar import SessionStatusBar

if TYPE_CHECKING:  # the other screens are imported when first needed: sign-in paints sooner
    from cpdesk.controller import LockedPanel, WorkController
    from cpdesk.records import AccessReason, ChildRecord, ChildSummary, SearchQuery, UserInfo
    from cpdesk.review import ReviewController, ReviewView
    from cpdesk.session import Session
    from cpdesk.ui.lockscreen import LockScreen
    from cpdesk.ui.review import ReviewPage
    from cpdesk.ui.work_page import WorkPage

__all__ = ["APP_TITLE", "LOCKED_TITLE", "MainWindow"]

APP_TITLE = "cpdesk"
LOCKED_TITLE = "cpdesk — locked"


class _KeyWatch(QObject):
    """Application-wide keys that lock: Ctrl+L, and Esc (twice quickly: the panic lock).

    An event filter on the application rather than a QShortcut: Qt does not deliver a
    window's shortcuts while a window-modal dialog (reason, settings) shadows it, and
    nothing may keep the user from locking.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._controller = window.controller

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        from PySide6.QtCore import Qt  # loaded after the first paint (see finish_start)

        if event.key() == Qt.Key.Key_L and _is_ctrl(event):
            self._controller.lock()
            return True  # consumed: no stray "l" typed into a field
        if event.key() == Qt.Key.Key_Escape and not event.isAutoRepeat():
            self._controller.escape_pressed()
        return False


class MainWindow(QMainWindow):
    """The one window. See the module docstring for the rules it keeps."""

    def __init__(
        self,
        controller: WorkController,
        *,
        server_label: str,
        copy: Callable[[str], None],
        settings_factory: Callable[[QWidget], QDialog] | None = None,
        demo: bool = False,
        finish_now: bool = True,
        review: Callable[[ReviewView], ReviewController] | None = None,
    ) -> None:
        """`finish_now=False` leaves `finish_start()` to the caller (the app calls it right
        after the first paint, and before any sign-in is sent)."""
        super().__init__()
        self.controller = controller
        self._copy = copy
        self._settings_factory = settings_factory
        self.work: WorkPage | None = None  # the workspace while active, else None
        self._parked: WorkPage | None = None  # the emptied workspace while locked
        self.lock_panel: LockScreen | None = None  # the panel while locked, else None
        self._lock_screen: LockScreen | None = None  # built once, refilled for each lock
        self._review_factory = review  # the index team's "Links to review" (cpdesk.review)
        self.review_page: ReviewPage | None = None  # while open; destroyed at lock and leave
        self._review: ReviewController | None = None
        # Called with each new workspace: screens kept in their own modules (ui/inbox.py)
        # add their pages and connect their buttons there.
        self.workspace_hooks: list[Callable[[WorkPage], None]] = []
        self.setWindowTitle(APP_TITLE)
        self.resize(1280, 820)
        self.pages = QStackedWidget()
        self.setCentralWidget(self.pages)
        self.signin = SignInPage(server_label, demo=demo)
        self.signin.sign_in_requested.connect(controller.sign_in)
        self.signin.cancel_requested.connect(controller.cancel_sign_in)
        self.pages.addWidget(self.signin)
        self.status = SessionStatusBar(server_label)
        self.setStatusBar(self.status)
        self._keys = _KeyWatch(self)
        self._finished = False
        self.signin.focus_first()
        controller.attach(self)
        if finish_now:
            self.finish_start()

    @property
    def session(self) -> Session:
        return self.controller.session

    def finish_start(self) -> None:
        """What the sign-in page does not need to paint (idempotent); all before sign-in.

        The lock keys and the focus-loss lock: an application-wide Python event filter makes
        PySide build a wrapper type for every Qt object an event reaches, which costs more
        than the first paint. And the one-time code's input hint, which needs PySide's `Qt`
        namespace, ~100 enums built in one go (~25 ms).
        """
        if self._finished:
            return
        self.signin.finish_start()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._keys)
            if isinstance(app, QApplication):
                app.focusWindowChanged.connect(self._focus_window_changed)
        self._finished = True

    # -- WorkView: the session's screens ------------------------------------------------

    def show_sign_in(self, notice: str) -> None:
        self.setWindowTitle(APP_TITLE)
        self._close_dialogs()
        self._close_review()
        self._destroy_work()
        self._drop_lock_panel()
        self.status.set_signed_out()
        self.signin.reset()
        self.signin.show_notice(notice)
        self.pages.setCurrentWidget(self.signin)
        self.signin.focus_first()

    def set_sign_in_busy(self, busy: bool) -> None:
        self.signin.set_busy(busy)

    def show_sign_in_error(self, text: str) -> None:
        self.signin.show_error(text)

    def show_workspace(self, user: UserInfo) -> None:
        self._drop_lock_panel()
        self.setWindowTitle(APP_TITLE)
        self.status.set_user(user.display_name, user.role, user.organisation)
        self.signin.reset()
        parked, self._parked = self._parked, None
        if parked is not None:  # an unlock: the emptied workspace is refilled from memory
            work = parked
        else:
            self._destroy_work()
            work = self._build_work()
        self.work = work
        work.review_button.setVisible(
            self._review_factory is not None and user.role == "index-team"
        )
        self.pages.setCurrentWidget(work)
        self._panel()  # built now, so a lock never waits for it
        if parked is None:
            work.form.focus_first()

    def show_locked(self, panel: LockedPanel) -> None:
        """Same turn as the lock: close dialogs, empty child data, show the lock panel.

        Ends with a synchronous repaint, so the window (and the taskbar or switcher
        thumbnail taken from it) shows the panel before any other event is handled.
        """
        self.setWindowTitle(LOCKED_TITLE)
        self._close_dialogs()
        self._close_review()
        self._park_work()
        self.status.set_locked()
        if self.lock_panel is not None:
            return
        screen = self._panel()
        screen.show_locked(
            panel.user,
            panel.locked_at,
            allow_pin=panel.allow_pin,
            signs_out_at=panel.signs_out_at,
        )
        self.lock_panel = screen
        self.pages.setCurrentWidget(screen)
        screen.focus_first()
        self.repaint()

    def offer_pin(self) -> None:
        from cpdesk.ui.lockscreen import PinDialog

        dialog = PinDialog(LocalPin.MIN_DIGITS, LocalPin.MAX_DIGITS, self)
        dialog.pin_chosen.connect(self.controller.set_pin)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def set_unlock_checking(self, busy: bool) -> None:
        if self.lock_panel is not None:
            self.lock_panel.set_checking(busy)

    def show_unlock_message(self, text: str) -> None:
        if self.lock_panel is not None:
            self.lock_panel.show_message(text)

    def show_time_left(self, status: str, warning: str) -> None:
        self.status.set_time_left(status)
        if self.work is not None:
            self.work.show_expiry_warning(warning)

    def show_busy(self, busy: bool, channel: str) -> None:
        """A job started or the last one ended (`TaskRunner.busy_changed`)."""
        if self.work is not None:
            self.work.set_busy(busy, busy_text(channel))

    # -- WorkView: the workspace ----------------------------------------------------------

    def fill_search_form(self, query: SearchQuery) -> None:
        if self.work is not None:
            self.work.form.set_query(query)

    def show_waiting(self, text: str) -> None:
        if self.work is not None:
            self.work.show_results_pane()
            self.work.results.show_waiting(text)

    def show_results(self, query: SearchQuery, children: tuple[ChildSummary, ...]) -> None:
        if self.work is not None:
            self.work.results.show_results(query, children)
            self.work.show_results_pane()

    def show_opened_today(self, children: tuple[ChildSummary, ...]) -> None:
        if self.work is not None:
            self.work.results.show_opened_today(children)
            self.work.show_results_pane()

    def show_too_many(self, query: SearchQuery) -> None:
        if self.work is not None:
            self.work.results.show_too_many(query)
            self.work.show_results_pane()

    def show_search_error(self, text: str) -> None:
        if self.work is not None:
            self.work.results.show_error(text)

    def show_record(self, record: ChildRecord, banner: str) -> None:
        if self.work is not None:
            self.work.record.show_record(record, banner)
            self.work.show_record_pane()

    def close_record(self) -> None:
        if self.work is not None:
            self.work.record.clear()
            self.work.show_results_pane()

    def show_notice(self, text: str) -> None:
        if self.work is not None:
            self.work.show_notice(text)

    def show_involvement_result(self, saved: bool, text: str) -> None:
        from cpdesk.ui.involvement_dialog import InvolvementDialog

        dialog = self.findChild(InvolvementDialog, "involvement-dialog")
        if dialog is not None and dialog.isVisible():
            dialog.show_result(saved, text)
            if not saved:
                return
        if self.work is not None:
            if saved:
                self.work.record.show_message(text)
            else:
                self.work.show_notice(text)

    # -- building and emptying ------------------------------------------------------------

    def _build_work(self) -> WorkPage:
        from cpdesk.ui.work_page import WorkPage

        c = self.controller
        work = WorkPage(self._copy, c.today)
        work.lock_requested.connect(c.lock)
        work.sign_out_requested.connect(c.sign_out)
        work.cancel_requested.connect(c.cancel)
        work.settings_requested.connect(self._show_settings)
        work.settings_button.setVisible(self._settings_factory is not None)
        work.review_requested.connect(self._open_review)
        work.form.search_requested.connect(c.search)
        work.results.open_requested.connect(self._ask_reason)
        work.record.back_requested.connect(c.back_to_results)
        work.record.declare_requested.connect(self._ask_involvement)
        work.record.end_requested.connect(self._confirm_end_involvement)
        self.pages.addWidget(work)
        for hook in self.workspace_hooks:
            hook(work)
        return work

    def _panel(self) -> LockScreen:
        if self._lock_screen is None:
            from cpdesk.ui.lockscreen import LockScreen

            c = self.controller
            panel = LockScreen(APP_TITLE)
            panel.unlock_requested.connect(c.unlock)
            panel.pin_unlock_requested.connect(c.unlock_with_pin)
            panel.sign_out_requested.connect(c.sign_out)
            self.pages.addWidget(panel)
            self._lock_screen = panel
        return self._lock_screen

    def _park_work(self) -> None:
        """Lock: empty every widget of the workspace now; keep the emptied page, hidden.

        Emptied, not destroyed: destroying and rebuilding hundreds of widgets made each
        lock and unlock cost tens of milliseconds more, and an empty widget holds nothing
        (tests walk the widget and accessibility trees, hidden widgets included).
        """
        work, self.work = self.work, None
        if work is None:
            return
        work.wipe()  # every text with child data goes now, in this turn
        work.set_busy(False)
        work.show_notice("")
        work.show_expiry_warning("")
        self._parked = work

    def _destroy_work(self) -> None:
        """Sign-out: the workspace (live or parked) goes for good."""
        pages = [self.work, self._parked]
        self.work = self._parked = None
        for work in pages:
            if work is None:
                continue
            work.wipe()  # every text with child data goes now, in this turn
            self.pages.removeWidget(work)
            work.hide()
            # Destroyed in a later turn. No setParent(None): turning a page into a hidden
            # top-level re-polishes its whole tree (~50 ms).
            work.deleteLater()

    def _open_review(self) -> None:
        """The index team's review screen, a page of its own over the workspace."""
        if self._review_factory is None or self.work is None or self.review_page is not None:
            return
        from cpdesk.ui.review import ReviewPage

        page = ReviewPage()
        review = self._review_factory(page)
        if not review.allowed:
            page.deleteLater()
            return
        page.link_requested.connect(review.link)
        page.not_this_child_requested.connect(review.not_this_child)
        page.skip_requested.connect(review.skip)
        page.reload_requested.connect(review.reload)
        page.back_requested.connect(self._close_review)
        page.lock_requested.connect(self.controller.lock)
        self.pages.addWidget(page)
        self.pages.setCurrentWidget(page)
        self.review_page, self._review = page, review
        review.open()

    def _close_review(self) -> None:
        """Lock, sign-out or back: empty the review screen now and destroy it."""
        page, self.review_page = self.review_page, None
        review, self._review = self._review, None
        if review is not None:
            review.close()
        if page is None:
            return
        page.wipe()
        self.pages.removeWidget(page)
        page.hide()
        page.deleteLater()
        if self.work is not None:
            self.pages.setCurrentWidget(self.work)
            self.work.review_button.setFocus()

    def _drop_lock_panel(self) -> None:
        panel, self.lock_panel = self.lock_panel, None
        if panel is not None:
            panel.show_locked(None, None)  # the panel stays, hidden and empty

    def _close_dialogs(self) -> None:
        """Every dialog, menu and tooltip goes: ours, and any top-level one of the app."""
        QToolTip.hideText()
        popup = QApplication.activePopupWidget()
        while popup is not None:
            popup.close()
            next_popup = QApplication.activePopupWidget()
            popup = None if next_popup is popup else next_popup
        dialogs = set(self.findChildren(QDialog))
        dialogs.update(w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog))
        for dialog in dialogs:
            dialog.reject()
            dialog.hide()
            dialog.setParent(None)
            dialog.deleteLater()

    # -- dialogs ----------------------------------------------------------------------

    def _ask_reason(self, child: ChildSummary) -> None:
        self.ask_reason(child.index_id)

    def ask_reason(self, index_id: str, suggested: AccessReason | None = None) -> None:
        """The reason dialog, then the record; `suggested` (a notice's category) is
        preselected instead of the last reason, and the dialog says why."""
        from cpdesk.ui.reason_dialog import ReasonDialog

        c = self.controller
        dialog = ReasonDialog(suggested or c.state.last_reason, self, suggested=suggested)
        dialog.reason_chosen.connect(lambda reason, text: c.open_record(index_id, reason, text))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _ask_involvement(self) -> None:
        from cpdesk.ui.involvement_dialog import InvolvementDialog

        c = self.controller
        user = c.session.user
        who = f"{user.display_name}, {user.organisation}" if user else ""
        dialog = InvolvementDialog(c.today, who, self)
        dialog.declared.connect(c.declare_involvement)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _confirm_end_involvement(self, role_id: str) -> None:
        from cpdesk.ui.involvement_dialog import confirm_end

        confirm_end(self, lambda: self.controller.end_involvement(role_id))

    def _show_settings(self) -> None:
        if self._settings_factory is None:
            return
        from PySide6.QtCore import Qt

        dialog = self._settings_factory(self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    # -- window events --------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.WindowStateChange and self.isMinimized():
            self.controller.window_minimised()
        super().changeEvent(event)

    def _focus_window_changed(self, window: object) -> None:
        if window is None:  # another application took the focus
            self.controller.focus_left_app()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.quit()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._keys)
        super().closeEvent(event)


def _is_ctrl(event: QKeyEvent) -> bool:
    from PySide6.QtCore import Qt

    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return bool(mods == Qt.KeyboardModifier.ControlModifier)
