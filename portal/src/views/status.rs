//! `GET /me`: where the user's move stands, their booking, and free slots.

use crate::error::PortalError;
use crate::format;
use crate::session::SignedIn;
use crate::state::PortalState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use cutover_core::db::events::EventRepo;
use cutover_core::db::slots::{Booking, Slot, SlotRepo};
use cutover_core::db::users::User;
use serde::Deserialize;

/// How many free slots the page and the API offer.
const SLOTS_SHOWN: i64 = 48;
const EVENTS_SHOWN: usize = 10;

/// What a user sees about themselves, shared by the page and `/api/me`.
pub(crate) struct Overview {
    pub booking: Option<Booking>,
    /// Empty unless the user may book.
    pub slots: Vec<Slot>,
}

impl Overview {
    pub(crate) async fn load(state: &PortalState, user: &User) -> Result<Overview, PortalError> {
        let booking = state.db.booking(&user.id).await?;
        let slots = if user.state.can_book() {
            state
                .db
                .open_slots(earliest_bookable(state), SLOTS_SHOWN)
                .await?
        } else {
            Vec::new()
        };
        Ok(Overview { booking, slots })
    }
}

/// The first slot start still open for booking.
pub(crate) fn earliest_bookable(state: &PortalState) -> i64 {
    cutover_core::db::now() + i64::from(state.config.slots.lead_minutes) * 60
}

pub(crate) struct SlotView {
    id: i64,
    time: String,
    free: i64,
}

pub(crate) struct EventView {
    at: String,
    text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/status.html")]
pub(crate) struct StatusPage {
    email: String,
    state_text: &'static str,
    booking: Option<String>,
    can_book: bool,
    slots: Vec<SlotView>,
    events: Vec<EventView>,
    csrf: String,
    flash: Option<&'static str>,
    error: Option<String>,
}

impl StatusPage {
    pub(crate) async fn build(
        state: &PortalState,
        signed: &SignedIn,
        error: Option<String>,
    ) -> Result<StatusPage, PortalError> {
        let user = &signed.user;
        let overview = Overview::load(state, user).await?;
        let events = state.db.events_of(&user.id).await?;
        Ok(StatusPage {
            email: user.email.to_string(),
            state_text: format::state_words(user.state),
            booking: overview
                .booking
                .map(|b| format::slot_time(b.slot.starts_at)),
            can_book: user.state.can_book(),
            slots: overview
                .slots
                .iter()
                .map(|s| SlotView {
                    id: s.id.0,
                    time: format::slot_time(s.starts_at),
                    free: s.free(),
                })
                .collect(),
            events: events
                .iter()
                .rev()
                .take(EVENTS_SHOWN)
                .map(|e| EventView {
                    at: format::short_time(e.at),
                    text: if e.detail.is_empty() {
                        e.kind.replace('_', " ")
                    } else {
                        format!("{}: {}", e.kind.replace('_', " "), e.detail)
                    },
                })
                .collect(),
            csrf: signed.session.csrf_token.clone(),
            flash: None,
            error,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct StatusQuery {
    done: Option<String>,
}

pub(crate) async fn page(
    State(state): State<PortalState>,
    signed: SignedIn,
    Query(q): Query<StatusQuery>,
) -> Result<StatusPage, PortalError> {
    let mut page = StatusPage::build(&state, &signed, None).await?;
    // Only fixed messages: nothing from the URL is echoed into the page.
    page.flash = match q.done.as_deref() {
        Some("booked") => Some("Your time is booked. We are sending you a confirmation e-mail."),
        _ => None,
    };
    Ok(page)
}
