//! Open Badges 3.0 classes (§B.1 Open Badges document formats and §B.2 derived types).
//!
//! Names, casing and optionality follow the spec's data model tables; the
//! `achievementType` vocabulary is §B.3.1 "AchievementType".

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::OneOrMany;

/// Extension properties: anything the spec's class does not name.
pub type Extra = Map<String, Value>;

/// An AchievementCredential (alias OpenBadgeCredential): an assertion that one
/// learner achieved one Achievement (§B.1.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AchievementCredential {
    /// VCDM 2.0 context first, then the OB 3.0 context.
    #[serde(rename = "@context")]
    pub context: OneOrMany<Value>,
    /// Unambiguous credential id (a `urn:uuid:` here); becomes `jti`.
    pub id: String,
    /// Includes `VerifiableCredential` and `OpenBadgeCredential` or `AchievementCredential`.
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// When the credential was awarded (may differ from `validFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awarded_date: Option<String>,
    /// The recipient and the achievement.
    pub credential_subject: AchievementSubject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub endorsement: Option<Vec<EndorsementCredential>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement_jwt: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<Evidence>>,
    /// The issuer Profile (or its IRI); `issuer.id` becomes `iss`.
    pub issuer: ProfileRef,
    /// Start of validity; becomes `nbf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// End of validity; becomes `exp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<OneOrMany<Proof>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_schema: Option<OneOrMany<CredentialSchema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_status: Option<OneOrMany<CredentialStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_service: Option<RefreshService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_use: Option<OneOrMany<TermsOfUse>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// The credential subject of an AchievementCredential (§B.1.3). Identifies the
/// recipient by `id` (a DID) or by `identifier` (IdentityObjects), or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AchievementSubject {
    /// The recipient's DID; becomes `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub credits_earned: Option<Number>,
    /// The achievement, as it was when the credential was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achievement: Option<Box<Achievement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Vec<IdentityObject>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Vec<ResultValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// An accomplishment that can be awarded (§B.1.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Achievement {
    /// Dereferenceable URL under the issuer's public URL.
    pub id: String,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Vec<Alignment>>,
    /// §B.3.1 vocabulary, or an `ext:` extension term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achievement_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub credits_available: Option<Number>,
    /// How the achievement is earned.
    pub criteria: Criteria,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub endorsement: Option<Vec<EndorsementCredential>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement_jwt: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_of_study: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// BCP 47 language of the achievement's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_language: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_identifier: Option<Vec<IdentifierEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<Vec<Related>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_description: Option<Vec<ResultDescription>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialization: Option<String>,
    /// Keywords (the spec's property is `tag`, singular).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// The §B.3.1 AchievementType enumeration.
pub const ACHIEVEMENT_TYPES: [&str; 31] = [
    "Achievement",
    "ApprenticeshipCertificate",
    "Assessment",
    "Assignment",
    "AssociateDegree",
    "Award",
    "Badge",
    "BachelorDegree",
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "CommunityService",
    "Competency",
    "Course",
    "CoCurricular",
    "Degree",
    "Diploma",
    "DoctoralDegree",
    "Fieldwork",
    "GeneralEducationDevelopment",
    "JourneymanCertificate",
    "LearningProgram",
    "License",
    "Membership",
    "ProfessionalDoctorate",
    "QualityAssuranceCredential",
    "MasterCertificate",
    "MasterDegree",
    "MicroCredential",
    "ResearchDoctorate",
    "SecondarySchoolDiploma",
];

/// Whether `t` is a term of the AchievementType vocabulary or an extension term
/// (`ext:` followed by letters, digits, `.`, `-` or `_`).
pub fn is_achievement_type(t: &str) -> bool {
    ACHIEVEMENT_TYPES.contains(&t)
        || t.strip_prefix("ext:").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        })
}

/// Descriptive metadata about how an achievement is earned (§B.2.4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Criteria {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Markdown narrative of what it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// An image for an achievement, profile or credential (§B.2.7). `id` is a URL or a
/// data URI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    pub id: String,
    /// Always `Image`.
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// An alignment to a competency framework or standard (§B.2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alignment {
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_description: Option<String>,
    pub target_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_framework: Option<String>,
    /// `ceasn:Competency`, `ceterms:Credential`, `CFItem`, `CFRubric`, ... or `ext:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    pub target_url: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// A way to identify the recipient without a DID: e-mail address (hashed and salted),
/// name, student id ... (§B.2.8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityObject {
    /// Always `IdentityObject`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether `identityHash` is a hash (`sha256$...`) or the plain value.
    pub hashed: bool,
    pub identity_hash: String,
    /// `emailAddress`, `name`, `sourcedId`, ... or `ext:`.
    pub identity_type: String,
    /// Appended to the identity before hashing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// Evidence of the work that earned the achievement (§B.2.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// A Result the recipient reached, e.g. a grade or a rubric level (§B.2.13). Named
/// `ResultValue` in Rust only to avoid shadowing `std::result::Result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultValue {
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achieved_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Vec<Alignment>>,
    /// The `id` of the ResultDescription this result answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// What results an achievement records and how (§B.2.14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultDescription {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Vec<Alignment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_value: Option<Vec<String>>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_value: Option<String>,
    /// `GradePointAverage`, `LetterGrade`, `Percent`, `RubricCriterionLevel`, ... or `ext:`.
    pub result_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubric_criterion_level: Option<Vec<RubricCriterionLevel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_max: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_min: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// One level of a rubric criterion (§B.2.15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RubricCriterionLevel {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Vec<Alignment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// Another language or version of the same achievement (§B.2.12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Related {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// An identifier of some other system (§B.2.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentifierEntry {
    /// Always `IdentifierEntry`.
    #[serde(rename = "type")]
    pub type_: String,
    pub identifier: String,
    pub identifier_type: String,
}

/// An issuer, creator or recipient organisation or person (§B.1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// For the issuer, its DID.
    pub id: String,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub endorsement: Option<Vec<EndorsementCredential>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement_jwt: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_identifier: Option<Vec<IdentifierEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub parent_org: Option<Box<Profile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// `issuer`: a Profile object or just its IRI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ProfileRef {
    /// The issuer's IRI only.
    Iri(String),
    /// The full Profile.
    Profile(Box<Profile>),
}

impl ProfileRef {
    /// `issuer.id`.
    pub fn id(&self) -> &str {
        match self {
            ProfileRef::Iri(s) => s,
            ProfileRef::Profile(p) => &p.id,
        }
    }
}

/// A postal address (§B.2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_office_box_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoCoordinates>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// A point on the globe (§B.2.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeoCoordinates {
    #[serde(rename = "type")]
    pub type_: String,
    #[schema(value_type = f64)]
    pub latitude: Number,
    #[schema(value_type = f64)]
    pub longitude: Number,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// A third party's endorsement of a profile, an achievement or a credential (§B.1.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndorsementCredential {
    #[serde(rename = "@context")]
    pub context: OneOrMany<Value>,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub credential_subject: EndorsementSubject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awarded_date: Option<String>,
    pub issuer: ProfileRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<OneOrMany<Proof>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_schema: Option<OneOrMany<CredentialSchema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_status: Option<OneOrMany<CredentialStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_service: Option<RefreshService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_use: Option<OneOrMany<TermsOfUse>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// What an endorsement endorses (§B.1.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndorsementSubject {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: OneOrMany<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement_comment: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// An embedded proof (Data Integrity), VCDM 2.0 §4.12.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Proof {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cryptosuite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// A schema the credential claims to conform to (VCDM 2.0 §4.11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSchema {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// Where to learn the credential's status (VCDM 2.0 §4.10), e.g. a
/// BitstringStatusListEntry; its purpose-specific members are in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// Where to get a fresh copy of the credential (VCDM 2.0 §5.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshService {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

/// Terms of use (VCDM 2.0 §5.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TermsOfUse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn achievement_type_vocabulary_and_extensions() {
        assert!(is_achievement_type("Badge"));
        assert!(is_achievement_type("Certification"));
        assert!(is_achievement_type("ext:VendorProficiency"));
        assert!(is_achievement_type("ext:a.b-c_d9"));
        assert!(!is_achievement_type("badge"));
        assert!(!is_achievement_type("ext:"));
        assert!(!is_achievement_type("ext:has space"));
        assert!(!is_achievement_type("Skill"));
    }

    /// serde_json runs with `arbitrary_precision` (the Data Integrity stack turns it on
    /// for the whole program), which changes how numbers travel through flattened and
    /// untagged members: every OB type must still give back exactly what it read.
    #[test]
    fn numbers_in_flattened_and_untagged_members_survive_a_round_trip() {
        let doc = serde_json::json!({
            "@context": ["https://www.w3.org/ns/credentials/v2",
                         "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
            "id": "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "https://example.edu/issuers/565049", "type": ["Profile"],
                       "name": "Example University", "ext:founded": 1891,
                       "ext:rating": 4.75},
            "validFrom": "2026-01-01T00:00:00Z",
            "name": "Calculus",
            "ext:credits": 3.5,
            "ext:serial": 18446744073709551615u64,
            "ext:offset": -9007199254740993i64,
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
                "ext:score": 0.1,
                "achievement": {
                    "id": "https://example.edu/achievements/calculus",
                    "type": ["Achievement"],
                    "name": "Calculus", "description": "Limits and series.",
                    "criteria": {"narrative": "Pass the exam.", "ext:weight": 1e-7},
                    "ext:level": [1, 2.5, {"deep": 12345678901234567890u64}]
                }
            }
        });
        let typed: AchievementCredential = serde_json::from_value(doc.clone()).expect("reads");
        assert_eq!(serde_json::to_value(&typed).expect("writes"), doc);
        let text = serde_json::to_string(&doc).expect("text");
        let typed: AchievementCredential = serde_json::from_str(&text).expect("reads text");
        assert_eq!(serde_json::to_value(&typed).expect("writes"), doc);
        // The issuer as a bare IRI (the untagged member's other arm).
        let mut iri = doc;
        iri["issuer"] = serde_json::json!("https://example.edu/issuers/565049");
        let typed: AchievementCredential = serde_json::from_value(iri.clone()).expect("reads");
        assert_eq!(serde_json::to_value(&typed).expect("writes"), iri);
    }
}
