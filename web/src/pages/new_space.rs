//! Starting a space from a template (`/spaces/new`): an *Organization* (announcements that
//! leaders post, discussion, questions, and a leadership channel only leaders read) or a
//! *Coalition* (leaders of several organizations, each invited by handle with an invite only
//! their account can use). The templates are data, here and nowhere else.

use super::{Layout, path_of, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::Viewer;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::model::SpaceError;
use hearth_spaces::ops::members::CreateInvite;
use hearth_spaces::ops::spaces::{CreateChannel, CreateSpace};
use serde::Deserialize;

/// A channel a template starts a space with.
pub struct ChannelPlan {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: &'static str,
    /// Who reads and who posts (`None`: the kind's default).
    pub read_role: Option<&'static str>,
    pub post_role: Option<&'static str>,
}

/// A kind of space an organizer can start.
pub struct SpaceTemplate {
    pub key: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub channels: &'static [ChannelPlan],
    /// Whether the form asks for the handles of other organizations' leaders.
    pub invites_leaders: bool,
}

const ANNOUNCEMENTS: ChannelPlan = ChannelPlan {
    name: "Announcements",
    description: "News from the leaders. Only leaders post here.",
    kind: "announcements",
    read_role: None,
    post_role: Some("admin"),
};
const DISCUSSION: ChannelPlan = ChannelPlan {
    name: "Discussion",
    description: "Talk with everyone in the group.",
    kind: "discussion",
    read_role: None,
    post_role: None,
};
const QUESTIONS: ChannelPlan = ChannelPlan {
    name: "Questions",
    description: "Ask; the asker or a leader marks the answer.",
    kind: "questions",
    read_role: None,
    post_role: None,
};

/// The templates, in the order the form offers them.
pub const TEMPLATES: &[SpaceTemplate] = &[
    SpaceTemplate {
        key: "organization",
        title: "Organization",
        summary: "Announcements that leaders post, discussion, questions, and a private channel for the leadership team.",
        channels: &[
            ANNOUNCEMENTS,
            DISCUSSION,
            QUESTIONS,
            ChannelPlan {
                name: "Leadership",
                description: "For the leadership team only.",
                kind: "restricted",
                read_role: Some("admin"),
                post_role: Some("admin"),
            },
        ],
        invites_leaders: false,
    },
    SpaceTemplate {
        key: "coalition",
        title: "Coalition",
        summary: "Leaders of several organizations working together: announcements, discussion and questions. You invite each leader by their handle.",
        channels: &[ANNOUNCEMENTS, DISCUSSION, QUESTIONS],
        invites_leaders: true,
    },
];

/// Most leaders one coalition form invites.
pub const MAX_LEADERS: usize = 20;
/// The role a coalition's invited leaders join with: they run it together.
const LEADER_ROLE: &str = "admin";

#[derive(Debug, Default, Deserialize)]
pub struct NewSpaceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    join_policy: String,
    #[serde(default)]
    leaders: String,
}

#[derive(Template)]
#[template(path = "new_space.html")]
struct NewSpacePage {
    layout: Layout,
    templates: &'static [SpaceTemplate],
    form: NewSpaceForm,
    error: Option<String>,
}

/// One invited leader, as the page after creating a coalition shows it.
struct LeaderInvite {
    handle: String,
    link: Option<String>,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "space_created.html")]
struct CreatedPage {
    layout: Layout,
    name: String,
    href: String,
    leaders: Vec<LeaderInvite>,
}

/// `GET /spaces/new`.
pub async fn page(v: Viewer) -> Response {
    render(&NewSpacePage {
        layout: Layout::signed_in("Start a space", &v),
        templates: TEMPLATES,
        form: NewSpaceForm {
            template: TEMPLATES[0].key.into(),
            join_policy: "invite".into(),
            ..NewSpaceForm::default()
        },
        error: None,
    })
}

/// The handles a leaders field lists (one a line, or separated by commas or spaces).
fn leader_handles(field: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in field.split([',', ' ', '\n', '\r', '\t']) {
        let h = h.trim().trim_start_matches('@').to_ascii_lowercase();
        if !h.is_empty() && !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

/// `POST /spaces/new`.
pub async fn create(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<NewSpaceForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let template = TEMPLATES
        .iter()
        .find(|t| t.key == f.template)
        .ok_or_else(|| WebError::BadRequest("Choose a kind of space".into()))?;
    let handles = if template.invites_leaders {
        leader_handles(&f.leaders)
    } else {
        Vec::new()
    };
    if handles.len() > MAX_LEADERS {
        return Ok(refill(
            &v,
            f,
            format!("Invite at most {MAX_LEADERS} leaders at once"),
        ));
    }
    let created = web
        .spaces
        .create_space(
            &v.did,
            CreateSpace {
                name: f.name.clone(),
                description: Some(f.description.clone()),
                join_policy: f.join_policy.clone(),
                listed: None,
                join_question: None,
                default_channels: Some(false),
            },
        )
        .await;
    let created = match created {
        Ok(c) => c,
        Err(SpaceError::Invalid(m)) => return Ok(refill(&v, f, m)),
        Err(e) => return Err(e.into()),
    };
    let space = created.space.uri;
    for c in template.channels {
        web.spaces
            .create_channel(
                &v.did,
                CreateChannel {
                    space: space.clone(),
                    name: c.name.into(),
                    description: Some(c.description.into()),
                    kind: c.kind.into(),
                    read_role: c.read_role.map(Into::into),
                    post_role: c.post_role.map(Into::into),
                    email_announcements: None,
                },
            )
            .await?;
    }
    if handles.is_empty() {
        return Ok(Redirect::to(&path_of(&space)).into_response());
    }
    let mut leaders = Vec::with_capacity(handles.len());
    for handle in handles {
        let account = crate::identity::resolve(&web.dids, &web.handles, &handle).await;
        let item = match account {
            Err(e) => LeaderInvite {
                handle,
                link: None,
                problem: Some(e.to_string()),
            },
            Ok(a) if a.did == v.did => LeaderInvite {
                handle,
                link: None,
                problem: Some("That is you: you are already in".into()),
            },
            Ok(a) => {
                let invite = web
                    .spaces
                    .create_invite(
                        &v.did,
                        CreateInvite {
                            space: space.clone(),
                            role: Some(LEADER_ROLE.into()),
                            max_uses: None,
                            expires_in_hours: None,
                            invitee: Some(a.did),
                        },
                    )
                    .await?;
                LeaderInvite {
                    handle,
                    link: Some(invite.link),
                    problem: None,
                }
            }
        };
        leaders.push(item);
    }
    Ok(render(&CreatedPage {
        layout: Layout::signed_in("Space created", &v),
        name: created.space.name,
        href: path_of(&space),
        leaders,
    }))
}

/// The form again, filled in as sent, with what was wrong.
fn refill(v: &Viewer, f: NewSpaceForm, error: String) -> Response {
    let mut res = render(&NewSpacePage {
        layout: Layout::signed_in("Start a space", v),
        templates: TEMPLATES,
        form: NewSpaceForm {
            csrf: String::new(),
            ..f
        },
        error: Some(error),
    });
    *res.status_mut() = StatusCode::BAD_REQUEST;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_what_the_issue_names() {
        let org = &TEMPLATES[0];
        let names: Vec<&str> = org.channels.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["Announcements", "Discussion", "Questions", "Leadership"]
        );
        assert_eq!(
            org.channels[0].post_role,
            Some("admin"),
            "leaders post announcements"
        );
        assert_eq!(
            org.channels[3].read_role,
            Some("admin"),
            "leadership is for leaders"
        );
        assert!(TEMPLATES[1].invites_leaders);
        for t in TEMPLATES {
            for c in t.channels {
                assert!(
                    hearth_spaces::model::ChannelKind::parse(c.kind).is_some(),
                    "{}: {}",
                    t.key,
                    c.kind
                );
            }
        }
    }

    #[test]
    fn leaders_are_split_and_deduplicated() {
        assert_eq!(
            leader_handles("@Alice.example, bob.example\n alice.example\r\n\tcarol.example"),
            ["alice.example", "bob.example", "carol.example"]
        );
        assert!(leader_handles(" , \n").is_empty());
    }
}
