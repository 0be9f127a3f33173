//! The API reference: an OpenAPI 3.1 document of every route the router serves, served
//! at `GET /openapi.json`.
//!
//! Each operation names the typed request and response structs its handler uses; their
//! schemas come from those structs' `ToSchema` derives (`utoipa`), so the reference
//! follows the code. Who may call a route is read from the router's own tables: the
//! role an admin route needs (`admin_rules`), the optional partner key of the verifier
//! routes, the session of the staff console. `tests/api/openapi.rs` fails when a route
//! of the router is missing here, or when this names a route the router lacks.
//!
//! Path templates use the router's `{name}` syntax, which is OpenAPI's; paths are given
//! as served when the public URL has no path (with one, every path sits under it and
//! the `servers` entry says so).

use axum::http::Method;
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, Paths};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required,
    ResponseBuilder, Schema, ServerBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use super::routes;
use super::views;

/// Schemas an operation refers to, collected into `components.schemas`.
type Schemas = Vec<(String, RefOr<Schema>)>;
/// A schema as an operation names it: registers what it needs, returns the reference.
type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// A named schema, and every schema it refers to.
fn named<T: ToSchema>(out: &mut Schemas) -> RefOr<Schema> {
    out.push((T::name().into_owned(), T::schema()));
    T::schemas(out);
    Ref::from_schema_name(T::name()).into()
}

/// `PUT /api/v1/issuer`'s body: [`crate::issue::IssuerProfile`], and the `id` and
/// `type` a `GET` answers, which a GET-modify-PUT round trip sends back.
fn issuer_update(out: &mut Schemas) -> RefOr<Schema> {
    use crate::issue::IssuerProfile;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let RefOr::T(Schema::Object(mut o)) = IssuerProfile::schema() else {
        return named::<IssuerProfile>(out);
    };
    IssuerProfile::schemas(out);
    let profile = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["Profile"]))
    };
    o.description = Some(
        "The editable parts of the issuer Profile, and optionally the `id` and `type` that \
         `GET /api/v1/issuer` answers (read-only: sent back unchanged or not at all)."
            .into(),
    );
    o.properties.insert(
        "id".into(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The issuer's DID, as `GET` answers it; any other value is refused (422).",
            ))
            .build()
            .into(),
    );
    let one_of = OneOfBuilder::new()
        .item(profile())
        .item(
            ArrayBuilder::new()
                .items(profile())
                .min_items(Some(1))
                .max_items(Some(1)),
        )
        .description(Some(
            "`Profile` or `[\"Profile\"]`; anything else is refused (422).",
        ))
        .build();
    o.properties
        .insert("type".into(), RefOr::T(Schema::from(one_of)));
    let name = "IssuerProfileUpdate";
    out.push((name.into(), RefOr::T(Schema::Object(o))));
    Ref::from_schema_name(name).into()
}

/// Any JSON value (a credential as sent, a document as published).
fn any(_: &mut Schemas) -> RefOr<Schema> {
    Value::schema()
}

/// A string (a compact JWT, a CSV file, an HTML page).
fn text(_: &mut Schemas) -> RefOr<Schema> {
    String::schema()
}

/// Bytes (an image).
fn binary(_: &mut Schemas) -> RefOr<Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .content_media_type("application/octet-stream")
        .build()
        .into()
}

/// One way a body or answer may be sent.
#[derive(Clone)]
struct Media {
    content_type: &'static str,
    schema: SchemaFn,
    example: Option<Value>,
}

/// One answer of an operation.
#[derive(Clone)]
struct Answer {
    status: u16,
    description: &'static str,
    media: Vec<Media>,
}

/// One documented operation.
#[derive(Clone)]
pub struct Op {
    method: Method,
    path: String,
    tag: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    body: Vec<Media>,
    body_required: bool,
    answers: Vec<Answer>,
    query: Vec<(&'static str, &'static str)>,
}

fn op(method: Method, path: impl Into<String>, tag: &'static str, summary: &'static str) -> Op {
    Op {
        method,
        path: path.into(),
        tag,
        summary,
        description: None,
        body: Vec::new(),
        body_required: false,
        answers: Vec::new(),
        query: Vec::new(),
    }
}

fn media(content_type: &'static str, schema: SchemaFn) -> Media {
    Media {
        content_type,
        schema,
        example: None,
    }
}

const JSON: &str = "application/json";
const HTML: &str = "text/html";
const FORM: &str = "application/x-www-form-urlencoded";

impl Op {
    fn about(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    /// A required JSON body of this type.
    fn json<T: ToSchema>(mut self) -> Self {
        self.body.push(media(JSON, named::<T>));
        self.body_required = true;
        self
    }

    /// A JSON body that may be left out (an empty body).
    fn optional_json<T: ToSchema>(mut self) -> Self {
        self.body.push(media(JSON, named::<T>));
        self.body_required = false;
        self
    }

    /// Another accepted body.
    fn also(mut self, content_type: &'static str, schema: SchemaFn) -> Self {
        self.body.push(media(content_type, schema));
        self.body_required = true;
        self
    }

    /// An example of the (first) request body.
    fn example(mut self, v: Value) -> Self {
        if let Some(m) = self.body.first_mut() {
            m.example = Some(v);
        }
        self
    }

    fn answer(mut self, status: u16, description: &'static str, m: Vec<Media>) -> Self {
        self.answers.push(Answer {
            status,
            description,
            media: m,
        });
        self
    }

    /// 200 with JSON of this type.
    fn ok<T: ToSchema>(self) -> Self {
        self.answer(200, "OK", vec![media(JSON, named::<T>)])
    }

    /// 201 with JSON of this type.
    fn created<T: ToSchema>(self) -> Self {
        self.answer(201, "Created", vec![media(JSON, named::<T>)])
    }

    /// 200 with this content type.
    fn ok_as(self, content_type: &'static str, schema: SchemaFn) -> Self {
        self.answer(200, "OK", vec![media(content_type, schema)])
    }

    /// A page for people.
    fn page(self) -> Self {
        self.ok_as(HTML, text)
    }

    /// A console form: URL-encoded fields, answered with a redirect (303) or the page
    /// again with what to fix.
    fn form(mut self) -> Self {
        self.body.push(media(FORM, any));
        self.body_required = true;
        self.answer(303, "Done; see the page in Location", Vec::new())
            .answer(
                200,
                "The form again, with what to fix",
                vec![media(HTML, text)],
            )
    }

    /// A query parameter.
    fn param(mut self, name: &'static str, description: &'static str) -> Self {
        self.query.push((name, description));
        self
    }
}

/// The tags, in the order the reference shows them.
const TAGS: &[(&str, &str)] = &[
    (
        "verify",
        "Verify any badge or credential: the verify API and the W3C VC-API",
    ),
    (
        "issuer",
        "The issuer profile, its achievements and badge types",
    ),
    ("awards", "Award badges, and manage the credentials issued"),
    ("trust", "The trust registry of other issuers"),
    ("partners", "Partner API keys for the verify API"),
    (
        "staff",
        "Staff accounts, sign-in, tokens and the audit trail",
    ),
    ("mail", "E-mail to earners and staff"),
    (
        "oid4vci",
        "OpenID for Verifiable Credential Issuance (wallets claim badges)",
    ),
    (
        "oid4vp",
        "OpenID for Verifiable Presentations (ask a wallet for badges)",
    ),
    (
        "public",
        "Documents anyone may fetch: DID document, status lists, health",
    ),
    (
        "pages",
        "Pages for people: catalogue, badges, earners, verification",
    ),
    (
        "console",
        "The staff console (HTML forms, signed-in session)",
    ),
];

/// Every documented operation.
pub fn operations() -> Vec<Op> {
    use crate::oid4vci::metadata::{AS_WELL_KNOWN, ISSUER_WELL_KNOWN, paths};
    use routes::{admin, endorse, oid4vp as vp, partner, staff, verify};
    use views::*;
    let png_or_svg = |o: Op| {
        o.also("image/png", binary)
            .also("image/svg+xml", text)
            .ok::<ImageUrl>()
    };
    let mut ops = vec![
        // ---- verify ----
        op(Method::POST, "/api/v1/verify", "verify", "Verify a badge")
            .about(
                "Any Open Badge (3.0 JWT or JSON with a proof, 2.0 hosted or signed), any \
                 W3C credential (vc+jwt, Data Integrity), a baked PNG or SVG, or a \
                 presentation. Always 200 with a report when the input could be examined; \
                 `verified` is the verdict and `checks` says why.",
            )
            .json::<verify::VerifyRequest>()
            .example(json!({"credential": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRpZDp3ZWI6YmFkZ2VzLmV4YW1wbGUuZWR1I2tleS0xIiwidHlwIjoidmMrand0In0..."}))
            .also("application/vc+jwt", text)
            .also("text/plain", text)
            .also("image/png", binary)
            .also("image/svg+xml", text)
            .ok::<crate::verify::Report>(),
        op(Method::POST, "/api/v1/verify/batch", "verify", "Verify up to 100 badges")
            .json::<verify::BatchRequest>()
            .ok_as(JSON, any),
        op(Method::POST, "/credentials/verify", "verify", "VC-API: verify a credential")
            .about("W3C VC-API `{\"verifiableCredential\", \"options\"}`; 200 when it verifies, 400 with the same body when not.")
            .also(JSON, any)
            .ok_as(JSON, any)
            .answer(400, "Does not verify", vec![media(JSON, any)]),
        op(Method::POST, "/presentations/verify", "verify", "VC-API: verify a presentation")
            .about("W3C VC-API `{\"verifiablePresentation\" or \"presentation\", \"options\": {\"challenge\", \"domain\"}}`.")
            .also(JSON, any)
            .ok_as(JSON, any)
            .answer(400, "Does not verify", vec![media(JSON, any)]),
        op(Method::POST, "/credentials/issue", "awards", "VC-API: issue any W3C credential")
            .about("W3C VC-API `{\"credential\", \"options\": {\"proof\": \"vc+jwt\" | \"eddsa-rdfc-2022\" | \"ecdsa-rdfc-2019\", \"credentialStatus\", \"credentialId\"}}`.")
            .also(JSON, any)
            .answer(201, "Issued: `{\"verifiableCredential\"}`", vec![media(JSON, any)]),
        // ---- presentation requests ----
        op(Method::POST, "/api/v1/presentation-requests", "oid4vp", "Ask a wallet for badges")
            .json::<vp::CreateBody>()
            .example(json!({"credential_types": ["OpenBadgeCredential"], "purpose": "Proof of your certification"}))
            .created::<vp::RequestView>(),
        op(Method::GET, "/api/v1/presentation-requests/{id}", "oid4vp", "A presentation request and its verdict")
            .ok::<vp::RequestView>(),
        op(Method::GET, "/api/v1/presentation-requests/{id}/qr.svg", "oid4vp", "The request's QR code (SVG)")
            .ok_as("image/svg+xml", text),
        op(Method::GET, "/api/v1/presentation-requests/{id}/qr.png", "oid4vp", "The request's QR code (PNG)")
            .ok_as("image/png", binary),
        op(Method::GET, format!("{}/{{tx}}", crate::oid4vp::REQUEST_PATH), "oid4vp", "The signed request object (wallets)")
            .ok_as("application/oauth-authz-req+jwt", text),
        op(Method::POST, format!("{}/{{tx}}", crate::oid4vp::REQUEST_PATH), "oid4vp", "The signed request object, `request_uri_method=post` (wallets)")
            .also(FORM, any)
            .ok_as("application/oauth-authz-req+jwt", text),
        op(Method::POST, format!("{}/{{tx}}", crate::oid4vp::RESPONSE_PATH), "oid4vp", "A wallet's answer (`direct_post`, `direct_post.jwt`)")
            .also(FORM, any)
            .ok_as(JSON, any),
        // ---- issuer ----
        op(Method::GET, "/api/v1/issuer", "issuer", "The issuer profile")
            .ok::<IssuerView>(),
        op(Method::PUT, "/api/v1/issuer", "issuer", "Set the issuer profile")
            .also(JSON, issuer_update)
            .example(json!({"name": "Example University", "url": "https://www.example.edu", "email": "badges@example.edu"}))
            .ok::<IssuerView>(),
        png_or_svg(op(Method::PUT, "/api/v1/issuer/image", "issuer", "Upload the issuer's logo")),
        op(Method::GET, "/api/v1/export", "issuer", "Export the whole store (JSON lines)")
            .ok_as("application/x-ndjson", text),
        op(Method::GET, "/metrics", "public", "Prometheus metrics")
            .ok_as(routes::ops::METRICS_CONTENT_TYPE, text),
        op(Method::GET, "/api/v1/achievements", "issuer", "List achievements")
            .param("include_archived", "`true` to list archived ones too")
            .ok::<AchievementList>(),
        op(Method::POST, "/api/v1/achievements", "issuer", "Describe an achievement")
            .about("An Open Badges 3.0 Achievement (§B.1.2); `id` and `type` are given by the service. Unknown members are refused unless they are extension terms (a URL or a prefixed name).")
            .json::<crate::model::Achievement>()
            .example(json!({
                "name": "Cloud Architect (Professional)",
                "description": "Designs resilient, secure and cost-aware systems on the platform.",
                "achievementType": "Certification",
                "criteria": {"narrative": "Pass the professional exam with 75% or more."},
                "tag": ["cloud", "architecture"]
            }))
            .created::<crate::model::Achievement>(),
        op(Method::GET, "/api/v1/achievements/{id}", "issuer", "An achievement (full id, percent-encoded, or its last segment)")
            .ok::<crate::model::Achievement>(),
        op(Method::PUT, "/api/v1/achievements/{id}", "issuer", "Change an achievement (later awards use it)")
            .json::<crate::model::Achievement>()
            .ok::<crate::model::Achievement>(),
        op(Method::POST, "/api/v1/achievements/{id}/archive", "issuer", "Archive an achievement")
            .ok::<crate::model::Achievement>(),
        op(Method::GET, "/api/v1/achievements/{id}/catalogue", "issuer", "Where an achievement sits in the catalogue")
            .ok::<crate::records::Placement>(),
        op(Method::PUT, "/api/v1/achievements/{id}/catalogue", "issuer", "Place an achievement in the catalogue")
            .json::<crate::catalogue::PlacementInput>()
            .ok::<crate::records::Placement>(),
        png_or_svg(op(Method::PUT, "/api/v1/achievements/{id}/image", "issuer", "Upload an achievement's image")),
        op(Method::POST, "/api/v1/achievements/{id}/endorsements", "issuer", "Attach an endorsement to an achievement")
            .json::<endorse::AttachRequest>()
            .ok::<crate::model::Achievement>()
            .answer(422, "The endorsement does not verify", vec![media(JSON, named::<EndorsementRefused>)]),
        op(Method::GET, "/api/v1/badge-types", "issuer", "List badge types")
            .ok::<BadgeTypeList>(),
        op(Method::POST, "/api/v1/badge-types", "issuer", "Add a badge type")
            .json::<crate::catalogue::BadgeTypeInput>()
            .created::<crate::records::BadgeType>(),
        op(Method::GET, "/api/v1/badge-types/{id}", "issuer", "A badge type")
            .ok::<crate::records::BadgeType>(),
        op(Method::PUT, "/api/v1/badge-types/{id}", "issuer", "Change a badge type")
            .json::<crate::catalogue::BadgeTypeInput>()
            .ok::<crate::records::BadgeType>(),
        op(Method::DELETE, "/api/v1/badge-types/{id}", "issuer", "Delete a badge type")
            .answer(204, "Deleted", Vec::new()),
        op(Method::POST, "/api/v1/clr", "awards", "Issue a Comprehensive Learner Record (CLR 2.0)")
            .json::<crate::issue::clr::ClrRequest>()
            .created::<IssuedView>(),
        op(Method::POST, "/api/v1/endorsements", "awards", "Issue an EndorsementCredential")
            .json::<crate::issue::endorse::EndorsementRequest>()
            .created::<IssuedView>(),
        // ---- awards and credentials ----
        op(Method::POST, "/api/v1/awards", "awards", "Award a badge")
            .about("`delivery: offer` (the default) answers with an OpenID4VCI offer for the earner's wallet; `direct` signs the badge now and answers with it.")
            .json::<crate::issue::AwardRequest>()
            .example(json!({
                "achievement_id": "urn:uuid:0193e0f5-1d2c-7a4b-8e5f-6a7b8c9d0e1f",
                "recipient": {"email": "ada@example.com", "name": "Ada Lovelace"},
                "delivery": "direct"
            }))
            .created::<CredentialView>(),
        op(Method::POST, "/api/v1/awards/batch", "awards", "Award many badges (JSON array or CSV)")
            .param("dry_run", "`true` checks every row and awards nothing")
            .param("delivery", "`offer` or `direct`, for rows that do not say")
            .json::<admin::AwardBatch>()
            .also("text/csv", text)
            .ok::<BatchResults>(),
        op(Method::POST, "/api/v1/awards/{id}/reoffer", "awards", "A fresh offer for an award not yet claimed")
            .ok::<CredentialView>(),
        op(Method::POST, "/api/v1/awards/{id}/approve", "awards", "Release an award that waits for approval")
            .ok::<CredentialView>(),
        op(Method::GET, "/api/v1/credentials", "awards", "List credentials, newest first")
            .param("achievement_id", "Only awards of this achievement")
            .param("email", "Only awards to this e-mail address")
            .param("recipient_id", "Only awards to this recipient id")
            .param("name", "Whole words of the recipient's name")
            .param("state", "`offered`, `issued`, `revoked`, `suspended` or `expired`")
            .param("revoked", "`true` or `false`")
            .param("suspended", "`true` or `false`")
            .param("expired", "`true` or `false`")
            .param("limit", "Page size, 1 to 500 (50)")
            .param("cursor", "The `next_cursor` of the page before")
            .ok::<CredentialList>(),
        op(Method::GET, "/api/v1/credentials/{id}", "awards", "A credential")
            .ok::<CredentialView>(),
        op(Method::POST, "/api/v1/credentials/{id}/revoke", "awards", "Revoke a credential (permanent)")
            .optional_json::<admin::StatusBody>()
            .example(json!({"reason": "awarded in error"}))
            .ok::<CredentialView>(),
        op(Method::POST, "/api/v1/credentials/{id}/suspend", "awards", "Suspend a credential")
            .optional_json::<admin::StatusBody>()
            .ok::<CredentialView>(),
        op(Method::POST, "/api/v1/credentials/{id}/unsuspend", "awards", "Lift a suspension")
            .optional_json::<admin::StatusBody>()
            .ok::<CredentialView>(),
        op(Method::POST, "/api/v1/credentials/revoke", "awards", "Revoke many credentials")
            .json::<admin::RevokeBatch>()
            .ok::<RevokeResults>(),
        op(Method::GET, "/api/v1/credentials/{id}/audit", "awards", "Who changed a credential's status, when and why")
            .ok::<CredentialAudit>(),
        op(Method::POST, "/api/v1/credentials/{id}/hide", "awards", "Hide the badge's public page")
            .ok::<Visibility>(),
        op(Method::POST, "/api/v1/credentials/{id}/show", "awards", "Show the badge's public page again")
            .ok::<Visibility>(),
        op(Method::POST, "/api/v1/credentials/{id}/earner-link", "awards", "A new private link for the earner (the old one stops working)")
            .ok::<EarnerLink>(),
        op(Method::POST, "/api/v1/credentials/{id}/mail", "mail", "Stop an award's reminder e-mails")
            .json::<admin::MailOptOut>()
            .ok::<CredentialView>(),
        // ---- trust ----
        op(Method::GET, "/api/v1/trust/issuers", "trust", "The trust registry")
            .ok::<TrustList>(),
        op(Method::POST, "/api/v1/trust/issuers", "trust", "Add an issuer")
            .json::<crate::trust::EntryInput>()
            .example(json!({"id": "did:web:partner.example.org", "name": "Partner College", "status": "trusted"}))
            .created::<crate::records::trust::Entry>(),
        op(Method::GET, "/api/v1/trust/issuers/{id}", "trust", "One issuer of the registry")
            .ok::<crate::records::trust::Entry>(),
        op(Method::PUT, "/api/v1/trust/issuers/{id}", "trust", "Add or change an issuer (201 when added)")
            .json::<crate::trust::EntryInput>()
            .ok::<crate::records::trust::Entry>(),
        op(Method::DELETE, "/api/v1/trust/issuers/{id}", "trust", "Remove an issuer")
            .answer(204, "Removed", Vec::new()),
        op(Method::POST, "/api/v1/trust/import", "trust", "Import a registry document")
            .param("replace", "`true` removes entries the document does not name")
            .also(JSON, any)
            .ok::<crate::trust::ImportSummary>(),
        // ---- partner keys ----
        op(Method::GET, "/api/v1/api-keys", "partners", "Partner API keys")
            .ok::<ApiKeyList>(),
        op(Method::POST, "/api/v1/api-keys", "partners", "Make a partner API key (the secret is shown once)")
            .json::<partner::NewKey>()
            .example(json!({"name": "Jobs board", "rate_limit": 600}))
            .created::<NewApiKey>(),
        op(Method::GET, "/api/v1/api-keys/{id}", "partners", "One partner API key")
            .ok::<crate::partner::KeyView>(),
        op(Method::PATCH, "/api/v1/api-keys/{id}", "partners", "Rename a key or change its rate limit")
            .json::<partner::KeyChange>()
            .ok::<crate::partner::KeyView>(),
        op(Method::POST, "/api/v1/api-keys/{id}/revoke", "partners", "Revoke a partner API key")
            .ok::<crate::partner::KeyView>(),
        // ---- staff ----
        op(Method::POST, "/api/v1/auth/login", "staff", "Sign in (sets the session cookie)")
            .json::<staff::LoginBody>()
            .ok::<SignedInView>(),
        op(Method::POST, "/api/v1/auth/logout", "staff", "Sign out")
            .answer(204, "Signed out", Vec::new()),
        op(Method::POST, "/api/v1/auth/password-reset", "staff", "Ask for a password-reset e-mail")
            .json::<staff::ResetRequest>()
            .answer(202, "Accepted", vec![media(JSON, named::<Message>)]),
        op(Method::GET, "/api/v1/auth/links/{token}", "staff", "What an invitation or reset link is for")
            .ok::<LinkInfo>(),
        op(Method::POST, "/api/v1/auth/links/{token}", "staff", "Choose a password with a link (and sign in)")
            .json::<staff::NewPassword>()
            .ok::<SignedInView>(),
        op(Method::GET, "/api/v1/me", "staff", "Who is calling")
            .ok::<MeView>(),
        op(Method::POST, "/api/v1/me/password", "staff", "Change one's password")
            .json::<staff::PasswordChange>()
            .ok::<StaffOnly>(),
        op(Method::GET, "/api/v1/me/tokens", "staff", "One's personal API tokens")
            .ok::<TokenList>(),
        op(Method::POST, "/api/v1/me/tokens", "staff", "Make a personal API token (shown once)")
            .json::<staff::TokenBody>()
            .created::<NewToken>(),
        op(Method::DELETE, "/api/v1/me/tokens/{id}", "staff", "Revoke a personal API token")
            .ok::<RevokedToken>(),
        op(Method::POST, "/api/v1/me/totp", "staff", "Start setting up two-factor sign-in")
            .ok::<TotpSecret>(),
        op(Method::POST, "/api/v1/me/totp/confirm", "staff", "Confirm two-factor sign-in with a code")
            .json::<staff::CodeBody>()
            .ok::<TotpState>(),
        op(Method::DELETE, "/api/v1/me/totp", "staff", "Turn two-factor sign-in off (with a code)")
            .json::<staff::CodeBody>()
            .ok::<TotpState>(),
        op(Method::GET, "/api/v1/staff", "staff", "Staff members")
            .ok::<StaffList>(),
        op(Method::POST, "/api/v1/staff", "staff", "Add or invite a staff member")
            .json::<staff::NewMember>()
            .example(json!({"email": "registrar@example.edu", "name": "Grace Hopper", "role": "issuer"}))
            .created::<NewStaff>(),
        op(Method::GET, "/api/v1/staff/{id}", "staff", "A staff member (id or e-mail address)")
            .ok::<StaffView>(),
        op(Method::PATCH, "/api/v1/staff/{id}", "staff", "Change a member's role or name")
            .json::<staff::MemberChange>()
            .ok::<StaffView>(),
        op(Method::DELETE, "/api/v1/staff/{id}", "staff", "Remove a member (sessions and tokens end)")
            .ok::<RemovedStaff>(),
        op(Method::POST, "/api/v1/staff/{id}/password-reset", "staff", "A password-reset link for a member")
            .ok::<ResetLink>(),
        op(Method::POST, "/api/v1/staff/{id}/totp-reset", "staff", "Turn a member's two-factor sign-in off")
            .ok::<StaffView>(),
        op(Method::GET, "/api/v1/settings/security", "staff", "Security settings")
            .ok::<crate::records::SecuritySettings>(),
        op(Method::PUT, "/api/v1/settings/security", "staff", "Require two-factor sign-in, or not")
            .json::<staff::SecurityChange>()
            .ok::<crate::records::SecuritySettings>(),
        op(Method::GET, "/api/v1/audit", "staff", "The audit trail, newest first")
            .param("actor", "Only calls by this actor")
            .param("action", "Only this action (`award.create`, ...)")
            .param("target", "Only calls on this target")
            .param("since", "RFC 3339 date-time")
            .param("until", "RFC 3339 date-time")
            .param("limit", "1 to 1000 (100)")
            .param("cursor", "The `next_cursor` of the page before")
            .param("format", "`csv` for every matching entry as CSV")
            .ok::<AuditPage>()
            .answer(200, "As CSV with `format=csv`", vec![media("text/csv", text)]),
        // ---- mail ----
        op(Method::GET, "/api/v1/mail", "mail", "Whether e-mail works, and the reminder settings")
            .ok::<MailStatus>(),
        op(Method::PUT, "/api/v1/mail/settings", "mail", "Set when reminders go out")
            .json::<crate::records::MailSettings>()
            .ok::<crate::records::MailSettings>(),
        op(Method::GET, "/api/v1/mail/templates", "mail", "The e-mail templates")
            .ok::<TemplateList>(),
        op(Method::GET, "/api/v1/mail/templates/{id}", "mail", "One template")
            .ok::<TemplateView>(),
        op(Method::PUT, "/api/v1/mail/templates/{id}", "mail", "Change a template")
            .json::<crate::records::MailTemplate>()
            .ok::<TemplateView>(),
        op(Method::DELETE, "/api/v1/mail/templates/{id}", "mail", "Restore a template's default")
            .ok::<TemplateView>(),
        op(Method::POST, "/api/v1/mail/templates/{id}/preview", "mail", "A template (or a draft) filled with sample values")
            .optional_json::<crate::records::MailTemplate>()
            .ok::<Preview>(),
        op(Method::POST, "/api/v1/mail/test", "mail", "Send a test message")
            .json::<staff::TestMail>()
            .answer(202, "Queued", vec![media(JSON, named::<QueuedMail>)]),
        op(Method::GET, "/api/v1/mail/outbox/{id}", "mail", "One message's state")
            .ok::<MessageView>(),
        // ---- OpenID4VCI ----
        op(Method::GET, format!("/.well-known/{ISSUER_WELL_KNOWN}"), "oid4vci", "Credential issuer metadata")
            .ok_as(JSON, any),
        op(Method::GET, format!("/.well-known/{AS_WELL_KNOWN}"), "oid4vci", "Authorization server metadata (RFC 8414)")
            .ok_as(JSON, any),
        op(Method::GET, format!("{}/{{id}}", paths::OFFERS), "oid4vci", "A credential offer by reference")
            .ok_as(JSON, any),
        op(Method::POST, paths::TOKEN, "oid4vci", "Token endpoint (pre-authorized code)")
            .also(FORM, any)
            .ok_as(JSON, any),
        op(Method::POST, paths::NONCE, "oid4vci", "Nonce endpoint")
            .ok_as(JSON, any),
        op(Method::POST, paths::CREDENTIAL, "oid4vci", "Credential endpoint (1.0 and draft 13)")
            .also(JSON, any)
            .ok_as(JSON, any)
            .answer(202, "Deferred: the award waits for approval", vec![media(JSON, any)]),
        op(Method::POST, paths::DEFERRED, "oid4vci", "Deferred credential endpoint")
            .also(JSON, any)
            .ok_as(JSON, any),
        op(Method::POST, paths::NOTIFICATION, "oid4vci", "Notification endpoint")
            .also(JSON, any)
            .answer(204, "Noted", Vec::new()),
        // ---- public documents ----
        op(Method::GET, "/openapi.json", "public", "This API reference")
            .ok_as(JSON, any),
        op(Method::GET, "/healthz", "public", "Liveness")
            .ok::<Health>(),
        op(Method::GET, "/readyz", "public", "Readiness: the store answers and the key signs")
            .ok::<Readiness>()
            .answer(503, "Not ready", vec![media(JSON, named::<Readiness>)]),
        op(Method::GET, "/.well-known/did.json", "public", "The issuer's DID document (did:web)")
            .ok_as("application/did+json", any),
        op(Method::GET, "/status/{purpose}/{list}", "public", "A Bitstring Status List credential")
            .ok_as("application/vc+jwt", text),
        // ---- pages ----
        op(Method::GET, "/", "pages", "The catalogue").page(),
        op(Method::GET, "/favicon.ico", "pages", "The icon").ok_as("image/x-icon", binary),
        op(Method::GET, "/assets/{file}", "pages", "Style sheets and scripts").ok_as("text/css", text),
        op(Method::GET, "/images/{file}", "pages", "Uploaded images").ok_as("image/png", binary),
        op(Method::GET, "/achievements/{id}", "pages", "An achievement's page (JSON with `Accept: application/json`)").page(),
        op(Method::GET, "/achievements/{id}/image.png", "pages", "An achievement's image").ok_as("image/png", binary),
        op(Method::GET, "/badges/{id}", "pages", "A badge's public page").page(),
        op(Method::GET, "/badges/{id}/badge.png", "pages", "The baked badge (PNG)").ok_as("image/png", binary),
        op(Method::GET, "/badges/{id}/badge.svg", "pages", "The baked badge (SVG)").ok_as("image/svg+xml", text),
        op(Method::GET, "/badges/{id}/small.png", "pages", "A small image for e-mail signatures").ok_as("image/png", binary),
        op(Method::GET, "/badges/{id}/credential.jwt", "pages", "The signed badge").ok_as("application/vc+jwt", text),
        op(Method::GET, "/badges/{id}/credential.json", "pages", "The signed badge's document").ok_as("application/ld+json", any),
        op(Method::GET, "/badges/{id}/embed", "pages", "A card to embed in another page").page(),
        op(Method::GET, "/claim/{id}", "pages", "Claim a badge into a wallet").page(),
        op(Method::POST, "/claim/{id}/accept", "pages", "Take a badge without a wallet").form(),
        op(Method::GET, "/claim/{id}/qr.svg", "pages", "The claim's QR code (SVG)").ok_as("image/svg+xml", text),
        op(Method::GET, "/claim/{id}/qr.png", "pages", "The claim's QR code (PNG)").ok_as("image/png", binary),
        op(Method::GET, "/earner/{award}/{mac}", "pages", "An earner's private page for one award").page(),
        op(Method::POST, "/earner/{award}/{mac}", "pages", "An earner's choices (page visibility, profile)").form(),
        op(Method::GET, "/earner/{award}/{mac}/clr", "pages", "The earner's badges as a CLR").ok_as("application/vc+jwt", text),
        op(Method::GET, "/profiles/{handle}", "pages", "An earner's skills overview").page(),
        op(Method::GET, "/profiles/{handle}/clr", "pages", "The overview as a CLR").ok_as("application/vc+jwt", text),
        op(Method::GET, "/verify", "pages", "Verify a badge (for employers)").page(),
        op(Method::POST, "/verify", "pages", "The verdict on a pasted or uploaded badge").form(),
        op(Method::POST, "/verify/wallet", "pages", "Ask a wallet for a badge").form(),
        op(Method::GET, "/verify/wallet/{id}", "pages", "The wallet request's page and verdict").page(),
        op(Method::GET, "/mail/unsubscribe/{award}/{mac}", "pages", "Stop reminder e-mails (asks first)").page(),
        op(Method::POST, "/mail/unsubscribe/{award}/{mac}", "pages", "Stop reminder e-mails (one click, RFC 8058)").form(),
        op(Method::GET, "/admin/login", "console", "Sign in").page(),
        op(Method::POST, "/admin/login", "console", "Sign in").form(),
        op(Method::POST, "/admin/logout", "console", "Sign out").form(),
        op(Method::GET, "/admin/invitation/{token}", "console", "Take up an invitation").page(),
        op(Method::POST, "/admin/invitation/{token}", "console", "Take up an invitation").form(),
        op(Method::GET, "/admin/reset/{token}", "console", "Choose a new password").page(),
        op(Method::POST, "/admin/reset/{token}", "console", "Choose a new password").form(),
        op(Method::GET, "/admin/forgot", "console", "Forgotten password").page(),
        op(Method::POST, "/admin/forgot", "console", "Forgotten password").form(),
    ];
    ops.extend(console());
    ops
}

/// The staff console's pages and forms.
fn console() -> Vec<Op> {
    let c = |m: Method, p: &'static str, s: &'static str| {
        let o = op(m.clone(), p, "console", s);
        if p.ends_with(".csv") {
            o.ok_as("text/csv", text)
        } else if m == Method::GET {
            o.page()
        } else {
            o.form()
        }
    };
    vec![
        c(Method::GET, "/admin", "Dashboard"),
        c(Method::GET, "/admin/profile", "Issuer profile"),
        c(Method::POST, "/admin/profile", "Save the issuer profile"),
        c(Method::POST, "/admin/profile/logo", "Upload the logo"),
        c(Method::POST, "/admin/badge-types", "Add a badge type"),
        c(Method::GET, "/admin/badge-types.csv", "Badge types as CSV"),
        c(Method::POST, "/admin/badge-types/{id}", "Save a badge type"),
        c(
            Method::POST,
            "/admin/badge-types/{id}/delete",
            "Delete a badge type",
        ),
        c(Method::GET, "/admin/achievements", "Achievements"),
        c(Method::POST, "/admin/achievements", "Create an achievement"),
        c(
            Method::GET,
            "/admin/achievements.csv",
            "Achievements as CSV",
        ),
        c(Method::GET, "/admin/achievements/new", "New achievement"),
        c(Method::GET, "/admin/achievements/{id}", "An achievement"),
        c(
            Method::POST,
            "/admin/achievements/{id}",
            "Save an achievement",
        ),
        c(
            Method::POST,
            "/admin/achievements/{id}/archive",
            "Archive an achievement",
        ),
        c(Method::GET, "/admin/award", "Award a badge"),
        c(Method::POST, "/admin/award", "Award a badge"),
        c(Method::GET, "/admin/award/template.csv", "The CSV template"),
        c(Method::POST, "/admin/award/csv", "Check a CSV file"),
        c(Method::GET, "/admin/award/csv/{job}", "A checked CSV file"),
        c(
            Method::GET,
            "/admin/award/csv/{job}/progress",
            "A CSV award's progress",
        ),
        c(
            Method::POST,
            "/admin/award/csv/{job}/start",
            "Start a CSV award",
        ),
        c(
            Method::GET,
            "/admin/award/results/{file}",
            "A CSV award's results",
        ),
        c(Method::GET, "/admin/credentials", "Credentials"),
        c(Method::GET, "/admin/credentials.csv", "Credentials as CSV"),
        c(Method::GET, "/admin/credentials/{id}", "A credential"),
        c(
            Method::POST,
            "/admin/credentials/{id}/{action}",
            "Revoke, suspend, re-offer, hide...",
        ),
        c(Method::GET, "/admin/presentations", "Presentation requests"),
        c(
            Method::POST,
            "/admin/presentations",
            "Ask a wallet for badges",
        ),
        c(
            Method::GET,
            "/admin/presentations/{id}",
            "A presentation request",
        ),
        c(Method::GET, "/admin/trust", "Trust registry"),
        c(Method::POST, "/admin/trust", "Add an issuer"),
        c(Method::GET, "/admin/trust.csv", "Trust registry as CSV"),
        c(Method::POST, "/admin/trust/import", "Import a registry"),
        c(
            Method::POST,
            "/admin/trust/{id}/status",
            "Change an issuer's status",
        ),
        c(Method::POST, "/admin/trust/{id}/delete", "Remove an issuer"),
        c(Method::GET, "/admin/api-keys", "Partner API keys"),
        c(Method::POST, "/admin/api-keys", "Make a partner key"),
        c(Method::GET, "/admin/api-keys.csv", "Partner keys as CSV"),
        c(
            Method::POST,
            "/admin/api-keys/{id}/revoke",
            "Revoke a partner key",
        ),
        c(Method::GET, "/admin/staff", "Staff"),
        c(Method::POST, "/admin/staff", "Invite a member"),
        c(Method::GET, "/admin/staff.csv", "Staff as CSV"),
        c(Method::POST, "/admin/staff/security", "Security settings"),
        c(
            Method::POST,
            "/admin/staff/{id}/{action}",
            "Change, reset or remove a member",
        ),
        c(Method::GET, "/admin/mail", "E-mail"),
        c(Method::POST, "/admin/mail/settings", "Reminder settings"),
        c(Method::POST, "/admin/mail/test", "Send a test message"),
        c(
            Method::POST,
            "/admin/mail/templates/{*rest}",
            "Save, preview or reset a template",
        ),
        c(Method::GET, "/admin/audit", "Audit trail"),
        c(Method::GET, "/admin/audit.csv", "Audit trail as CSV"),
        c(Method::GET, "/admin/account", "One's account"),
        c(
            Method::POST,
            "/admin/account/password",
            "Change one's password",
        ),
        c(
            Method::POST,
            "/admin/account/totp",
            "Set up two-factor sign-in",
        ),
        c(
            Method::POST,
            "/admin/account/totp/{what}",
            "Confirm or turn off two-factor sign-in",
        ),
        c(Method::POST, "/admin/tokens", "Make a personal API token"),
        c(
            Method::POST,
            "/admin/tokens/{id}/revoke",
            "Revoke a personal API token",
        ),
    ]
}

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Trace,
    }
}

/// A router path template as OpenAPI writes it (`{*rest}` is `{rest}`).
fn openapi_path(router_path: &str) -> String {
    router_path.replace("{*", "{")
}

/// Who may call a route.
enum Access {
    /// An admin route and its rule.
    Staff(super::Rule),
    /// A verifier route: open, a partner key optional.
    Partner,
    /// A console page: a signed-in staff session.
    Session,
    Open,
}

/// The router's access tables, read once for a whole document.
struct AccessTable {
    rules: Vec<(Method, &'static str, super::Rule)>,
    verifier: Vec<(Method, &'static str)>,
}

impl AccessTable {
    fn new() -> Self {
        Self {
            rules: super::admin_rules(),
            verifier: super::verifier_routes(),
        }
    }

    fn of(&self, method: &Method, path: &str) -> Access {
        if let Some((_, _, rule)) = self
            .rules
            .iter()
            .find(|(m, p, _)| m == method && *p == path)
        {
            return Access::Staff(*rule);
        }
        if self.verifier.iter().any(|(m, p)| m == method && *p == path) {
            return Access::Partner;
        }
        let public_console = ["/admin/login", "/admin/logout", "/admin/forgot"];
        if path.starts_with("/admin")
            && !public_console.contains(&path)
            && !path.starts_with("/admin/invitation/")
            && !path.starts_with("/admin/reset/")
        {
            return Access::Session;
        }
        Access::Open
    }
}

impl Access {
    fn requirements(&self) -> Vec<SecurityRequirement> {
        let scheme = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
        match self {
            Self::Staff(_) => vec![scheme("bearer"), scheme("session")],
            Self::Partner => vec![SecurityRequirement::default(), scheme("apiKey")],
            Self::Session => vec![scheme("session")],
            Self::Open => Vec::new(),
        }
    }

    /// A sentence for the operation's description.
    fn description(&self) -> Option<String> {
        match self {
            Self::Staff(rule) if rule.own => {
                Some("Any signed-in staff member, for their own account".to_owned())
            }
            Self::Staff(rule) => Some(format!(
                "Needs the {} role (audit name `{}`)",
                rule.role.as_str(),
                rule.action
            )),
            Self::Partner => Some("Open to all; a partner key raises the rate limit".to_owned()),
            Self::Session => Some("A signed-in staff session".to_owned()),
            Self::Open => None,
        }
    }

    /// A few words, for the endpoint table.
    fn short(&self) -> &'static str {
        match self {
            Self::Staff(rule) if rule.own => "any member",
            Self::Staff(rule) => rule.role.as_str(),
            Self::Partner => "anyone (partner key optional)",
            Self::Session => "session",
            Self::Open => "anyone",
        }
    }
}

/// The document, for a service at `public_url`.
pub fn document(public_url: &str) -> OpenApi {
    let mut schemas: Schemas = Vec::new();
    let error = named::<views::ErrorBody>(&mut schemas);
    // Named where recursion stops (endorsements of profiles that endorse...).
    named::<crate::model::EndorsementCredential>(&mut schemas);
    named::<crate::model::Profile>(&mut schemas);
    let access = AccessTable::new();
    let mut paths = Paths::new();
    for o in operations() {
        let access = access.of(&o.method, &o.path);
        let path = openapi_path(&o.path);
        let mut b = OperationBuilder::new()
            .tag(o.tag)
            .summary(Some(o.summary))
            .operation_id(Some(format!(
                "{} {}",
                o.method.as_str().to_lowercase(),
                path
            )));
        let description = match (o.description, access.description()) {
            (Some(d), Some(w)) => Some(format!("{d}\n\n{w}.")),
            (Some(d), None) => Some(d.to_owned()),
            (None, Some(w)) => Some(format!("{w}.")),
            (None, None) => None,
        };
        b = b.description(description);
        for name in path_parameters(&path) {
            b = b.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(String::schema())),
            );
        }
        for (name, d) in &o.query {
            b = b.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(*d))
                    .schema(Some(String::schema())),
            );
        }
        if !o.body.is_empty() {
            let mut rb = RequestBodyBuilder::new().required(Some(if o.body_required {
                Required::True
            } else {
                Required::False
            }));
            for m in &o.body {
                rb = rb.content(m.content_type, content(m, &mut schemas));
            }
            b = b.request_body(Some(rb.build()));
        }
        let mut answered = std::collections::BTreeMap::<u16, ResponseBuilder>::new();
        for a in &o.answers {
            let r = answered
                .remove(&a.status)
                .unwrap_or_else(|| ResponseBuilder::new().description(a.description));
            let mut r = r;
            for m in &a.media {
                r = r.content(m.content_type, content(m, &mut schemas));
            }
            answered.insert(a.status, r);
        }
        for (status, r) in answered {
            b = b.response(status.to_string(), r.build());
        }
        if o.tag != "pages" && o.tag != "console" {
            b = b.response(
                "default",
                ResponseBuilder::new()
                    .description("An error")
                    .content(
                        JSON,
                        ContentBuilder::new().schema(Some(error.clone())).build(),
                    )
                    .build(),
            );
        }
        for s in access.requirements() {
            b = b.security(s);
        }
        paths.add_path_operation(&path, vec![http_method(&o.method)], b.build());
    }
    // Keep one copy of each schema, in the order first named.
    let mut seen = std::collections::HashSet::new();
    schemas.retain(|(name, _)| seen.insert(name.clone()));
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token (`--admin-token`) or a staff member's personal API token",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::http::access::SESSION_COOKIE,
                "A staff session from /api/v1/auth/login or the console; writes also send X-CSRF-Token",
            ))),
        )
        .security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "A partner key (also accepted as Authorization: Bearer)",
            ))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("accolade")
                .version(crate::app::VERSION)
                .description(Some(
                    "Open Badges 3.0 credential service: issue badges as W3C Verifiable \
                     Credentials under did:web, deliver them to wallets over OpenID4VCI, \
                     verify any badge, publish revocation as Bitstring Status Lists.",
                ))
                .build(),
        )
        .servers(Some(vec![
            ServerBuilder::new()
                .url(public_url.trim_end_matches('/'))
                .build(),
        ]))
        .tags(Some(TAGS.iter().map(|(n, d)| {
            TagBuilder::new().name(*n).description(Some(*d)).build()
        })))
        .paths(paths)
        .components(Some(components))
        .build()
}

fn content(m: &Media, schemas: &mut Schemas) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some((m.schema)(schemas)))
        .example(m.example.clone())
        .build()
}

/// The `{name}` segments of a path template.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|s| s.trim_start_matches('*').to_owned())
        .collect()
}

/// Every (method, path) the document describes, in the router's path syntax.
pub fn documented_routes() -> Vec<(Method, String)> {
    operations()
        .into_iter()
        .map(|o| (o.method, o.path))
        .collect()
}

/// Every route as Markdown tables, one per tag: what `docs/api.md` holds (a test
/// keeps the two the same; `accolade openapi --markdown` prints it).
pub fn markdown() -> String {
    let ops = operations();
    let access = AccessTable::new();
    let mut out = String::new();
    for (tag, description) in TAGS {
        let rows: Vec<&Op> = ops.iter().filter(|o| o.tag == *tag).collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "### {description}\n\n| Method | Path | Who | What |\n|---|---|---|---|\n"
        ));
        for o in rows {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                o.method,
                openapi_path(&o.path),
                access.of(&o.method, &o.path).short(),
                o.summary.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_read_from_the_template() {
        assert_eq!(
            path_parameters("/earner/{award}/{mac}/clr"),
            vec!["award".to_owned(), "mac".to_owned()]
        );
        assert_eq!(
            path_parameters("/admin/mail/templates/{*rest}"),
            vec!["rest".to_owned()]
        );
        assert!(path_parameters("/healthz").is_empty());
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_schema_it_refers_to() {
        let doc = serde_json::to_value(document("https://badges.example.edu")).expect("json");
        assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        // Every reference resolves.
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().expect("name");
            assert!(
                schemas.contains_key(name),
                "{name} is referred to but not defined"
            );
        }
        assert!(schemas.contains_key("AwardRequest"));
        assert!(schemas.contains_key("CredentialView"));
        assert_eq!(doc["servers"][0]["url"], "https://badges.example.edu");
    }

    #[test]
    fn admin_routes_name_their_role_and_public_documents_need_nothing() {
        let doc = serde_json::to_value(document("http://x")).expect("json");
        let award = &doc["paths"]["/api/v1/awards"]["post"];
        assert!(
            award["description"]
                .as_str()
                .expect("d")
                .contains("issuer role"),
            "{award}"
        );
        assert_eq!(award["security"][0]["bearer"], json!([]));
        assert!(doc["paths"]["/healthz"]["get"].get("security").is_none());
        let verify = &doc["paths"]["/api/v1/verify"]["post"];
        assert_eq!(verify["security"][0], json!({}));
    }
}
