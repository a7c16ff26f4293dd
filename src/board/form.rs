//! The message board's HTML flow (`/board`, `/board/clear`,
//! `/board/delete`), on the rules
//! of `submission`. The page's form carries a one-time token, so a form
//! sent twice (a double click, a retry after an error) posts once.

use crate::board::admin::Admin;
use crate::board::page::{BoardForm, board_page};
use crate::board::submission::{
    FORM, PAGE_SIZE, Query, check_content_type, check_message, check_same_origin, message_id,
    parse_form, read_body,
};
use crate::error::{Challenge, Error};
use crate::http::body::RequestBody;
use crate::http::response::{self, Response};
use crate::random::Random;
use crate::store::Store;
use crate::store::idempotency::{self, Once, Scope, Submission, TOKEN_FIELD};
use http::header::{HeaderValue, LOCATION};
use http::request::Parts;
use http::{StatusCode, Uri};
use jiff::Timestamp;

/// `GET /board[?before=ID]`: the newest messages (or those before `ID`),
/// and the form with a new token from `random`.
pub fn show<S: Store, F>(store: &S, uri: &Uri, random: Random) -> Result<Response<F>, Error> {
    let before = Query::parse(uri)?.before;
    let page = store.page(before, PAGE_SIZE)?;
    let token = new_token(random);
    let form = BoardForm {
        token: token.as_deref(),
        ..BoardForm::default()
    };
    let page = board_page(&page, before.is_some(), form);
    Ok(response::html(StatusCode::OK, page))
}

/// `POST /board`: saves `message` (or, for the admin, clears the board when
/// the form has a `clear` field), then sends the browser back to the board
/// with a 303, so a reload never posts again. With the form's `token`, a
/// repeat answers the same 303 and stores nothing (409 while the first is
/// being stored). `now` is the message's time; `random` makes the token of
/// a form shown again.
pub fn post<S: Store, F, B: RequestBody>(
    store: &S,
    admin: Admin,
    parts: &Parts,
    body: B,
    now: Timestamp,
    random: Random,
) -> Result<Response<F>, Error> {
    check_same_origin(parts)?;
    check_content_type(
        &parts.headers,
        FORM,
        "Send the form as application/x-www-form-urlencoded.",
    )?;
    let body = read_body(&parts.headers, body)?;
    let fields = parse_form(&body)?;
    if fields.iter().any(|(name, _)| name == "clear") {
        admin.authorize(&parts.headers, Challenge::Basic)?;
        store.clear()?;
        return Ok(see_the_board());
    }
    let field = |wanted: &str| {
        fields
            .iter()
            .find_map(|(name, value)| (name == wanted).then_some(value.as_str()))
    };
    let text = field("message")
        .ok_or_else(|| Error::BadRequest("The form has no message field.".to_owned()))?;
    let token = field(TOKEN_FIELD);
    if let Some(token) = token {
        idempotency::check_token(token)?;
    }
    if let Err(error) = check_message(text) {
        // The board again, with what went wrong and the text kept; nothing
        // was stored, so the same token serves.
        let notice = error.public_message();
        return show_again(store, error.status(), &notice, text, token);
    }
    let Some(token) = token else {
        // A form without a token (an old page, a script) posts as before.
        store.append(text, now)?;
        return Ok(see_the_board());
    };
    let submission = Submission::new(Scope::Form, token, text);
    match store.append_once(&submission, text, now)? {
        Once::Stored(_) | Once::Replayed(_) => Ok(see_the_board()),
        Once::InProgress => Err(Error::Conflict(
            "This form was just sent and its message is still being saved: \
             see the board in a moment.",
        )),
        // The token was used for another text (a page restored from the
        // history and changed): keep the text, with a new token to send it.
        Once::KeyReused => {
            let fresh = new_token(random);
            let notice = "This form was already sent with another message; \
                          yours is kept below: send it again.";
            show_again(
                store,
                StatusCode::UNPROCESSABLE_ENTITY,
                notice,
                text,
                fresh.as_deref(),
            )
        }
    }
}

/// The board with a refused post's `notice`, its text and a token.
fn show_again<S: Store, F>(
    store: &S,
    status: StatusCode,
    notice: &str,
    draft: &str,
    token: Option<&str>,
) -> Result<Response<F>, Error> {
    let page = store.page(None, PAGE_SIZE)?;
    let form = BoardForm {
        notice: Some(notice),
        draft,
        token,
    };
    Ok(response::html(status, board_page(&page, false, form)))
}

/// A new token for the form; without randomness the form goes without
/// one (its posts are then not idempotent) rather than failing the page.
fn new_token(random: Random) -> Option<String> {
    idempotency::new_token(random)
        .inspect_err(|reason| eprintln!("sitebox: board: no token for the form: {reason}"))
        .ok()
}

/// `POST /board/clear`: the "Clear Messages" button, for the admin (the
/// browser asks for the credentials when the `401` challenges it).
pub fn clear<S: Store, F>(store: &S, admin: Admin, parts: &Parts) -> Result<Response<F>, Error> {
    check_same_origin(parts)?;
    admin.authorize(&parts.headers, Challenge::Basic)?;
    store.clear()?;
    Ok(see_the_board())
}

/// `POST /board/delete` with `id=ID`: a message's "Delete" button, for the
/// admin (the login as for clearing). Back to the board also when the
/// message was gone already (a double click): it is not on the board, as
/// wanted. `now` is the deletion's time.
pub fn delete<S: Store, F, B: RequestBody>(
    store: &S,
    admin: Admin,
    parts: &Parts,
    body: B,
    now: Timestamp,
) -> Result<Response<F>, Error> {
    check_same_origin(parts)?;
    admin.authorize(&parts.headers, Challenge::Basic)?;
    check_content_type(
        &parts.headers,
        FORM,
        "Send the form as application/x-www-form-urlencoded.",
    )?;
    let fields = parse_form(&read_body(&parts.headers, body)?)?;
    let id = fields
        .iter()
        .find_map(|(name, value)| (name == "id").then(|| message_id(value)))
        .flatten()
        .ok_or_else(|| Error::BadRequest("The form names no message.".to_owned()))?;
    store.delete(id, now)?;
    Ok(see_the_board())
}

fn see_the_board<F>() -> Response<F> {
    let mut response = response::empty(StatusCode::SEE_OTHER);
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/board"));
    response
}

#[cfg(test)]
mod tests;
