//! The claim page `/claim/{id}`: the earner's way to their badge. While the award's
//! offer is live it shows the QR code and wallet link (a fresh offer once the last one
//! expired); otherwise, where the award stands. Earners without a wallet accept the
//! badge here with the transaction code (the same five tries as the wallet path) and
//! land on its badge page; the wallet path stays open for a copy bound to a wallet key.

use time::OffsetDateTime;

use super::{Error, Meta, Pages, Site, summary};
use crate::issue::offers::{ClaimState, TX_CODE_LENGTH};

/// A live offer as the claim page shows it.
#[derive(Debug, Clone)]
pub struct ClaimOffer {
    /// The `openid-credential-offer://` link.
    pub uri: String,
    /// The QR code of `uri`, as SVG markup.
    pub qr_svg: String,
    pub expires: OffsetDateTime,
    /// The number of digits of the transaction code the wallet will ask for, if any.
    pub tx_code_digits: Option<usize>,
    pub qr_png_url: String,
    pub qr_svg_url: String,
}

/// `/claim/{id}`.
#[derive(Debug, Clone)]
pub struct ClaimView {
    pub site: Site,
    pub meta: Meta,
    pub name: String,
    pub description: String,
    pub image_url: String,
    pub state: ClaimState,
    pub offer: Option<ClaimOffer>,
    /// The earner's name, as the award gives it.
    pub earner: Option<String>,
    pub badge_type: Option<String>,
    pub valid_until: Option<OffsetDateTime>,
    /// The form that accepts the badge without a wallet, while that is possible.
    pub accept_url: Option<String>,
    /// Whether accepting asks for the transaction code.
    pub tx_code_required: bool,
    /// The badge page, once the badge is issued and its page is public.
    pub badge_url: Option<String>,
    /// The issued badge's page is hidden.
    pub badge_private: bool,
    /// The earner's manage page.
    pub earner_url: Option<String>,
    /// What the page says about wallets (safe HTML).
    pub wallet_help_html: String,
    /// Why the last accept failed, for the form.
    pub error: Option<String>,
}

/// What the claim page says about wallets when the issuer has not said it.
pub const DEFAULT_WALLET_HELP: &str = "Any digital wallet that supports **OpenID for Verifiable \
Credential Issuance** (OpenID4VCI) and **Open Badges 3.0** can hold this badge. No wallet? \
Accept the badge here instead: you get its page, a badge image with the credential inside, \
and the credential file, and you can still add it to a wallet later.";

impl Pages {
    /// The claim page's view (minting a fresh offer when the last one expired).
    pub async fn claim_view(&self, id: &str, error: Option<String>) -> Result<ClaimView, Error> {
        let claim = self.issuer.claim(id).await?;
        let rec = &claim.record;
        let site = self.site().await?;
        let achievement = self.issuer.revision(rec.achievement).await?;
        let page_url = format!("{}/claim/{id}", site.base);
        let offer = match (claim.state, rec.wallet.offer.as_ref()) {
            (ClaimState::Open, Some(o)) => {
                let uri = self.issuer.offer_uri(rec.id, o);
                let qr_svg = crate::qr::svg(&uri).map_err(|e| Error::Render(e.to_string()))?;
                Some(ClaimOffer {
                    qr_svg,
                    uri,
                    expires: o.expires_at,
                    tx_code_digits: rec.wallet.tx_code.is_some().then_some(TX_CODE_LENGTH),
                    qr_png_url: format!("{page_url}/qr.png"),
                    qr_svg_url: format!("{page_url}/qr.svg"),
                })
            }
            _ => None,
        };
        let meta = Meta {
            title: format!(
                "Claim your badge: {} — {}",
                achievement.name, site.issuer_name
            ),
            description: summary(&achievement.description, 160),
            url: page_url,
            image: None,
            image_alt: None,
            noindex: true,
            og_type: "website",
        };
        let profile = self.issuer.profile().await?;
        let wallet_help_html = super::markdown::to_html(
            profile
                .wallet_help
                .as_deref()
                .unwrap_or(DEFAULT_WALLET_HELP),
            3,
        );
        let issued = !rec.issued.is_empty();
        let can_accept =
            !issued && matches!(claim.state, ClaimState::Open) && offer.is_some() && !rec.suspended;
        let (badge_url, badge_private) = if issued && !rec.revoked {
            let public = self.catalogue.is_public(rec.id).await?;
            (
                public.then(|| format!("{}/badges/{}", site.base, rec.id)),
                !public,
            )
        } else {
            (None, false)
        };
        let snap = self.catalogue.snapshot().await?;
        let badge_type = snap.type_of(rec.achievement.key).map(|t| t.name.clone());
        let earner_url = self.earners.manage_url(rec).await?;
        Ok(ClaimView {
            earner: rec.recipient.name.clone(),
            badge_type,
            valid_until: rec.valid_until,
            accept_url: can_accept.then(|| format!("{}/claim/{id}/accept", site.base)),
            tx_code_required: rec.wallet.tx_code.is_some(),
            badge_url,
            badge_private,
            earner_url,
            wallet_help_html,
            error,
            image_url: format!(
                "{}/achievements/{}/image.png?v={}",
                site.base, rec.achievement.key, rec.achievement.revision
            ),
            name: achievement.name.clone(),
            description: achievement.description.clone(),
            state: claim.state,
            offer,
            site,
            meta,
        })
    }
}
