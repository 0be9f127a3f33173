//! The claim page `/claim/{id}`: the earner's way to their badge. While the award's
//! offer is live it shows the QR code and wallet link (a fresh offer once the last one
//! expired); otherwise, where the award stands.

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
}

impl Pages {
    /// The claim page's view (minting a fresh offer when the last one expired).
    pub async fn claim_view(&self, id: &str) -> Result<ClaimView, Error> {
        let claim = self.issuer.claim(id).await?;
        let rec = &claim.record;
        let site = self.site().await?;
        let achievement = self.issuer.revision(rec.achievement).await?;
        let page_url = format!("{}/claim/{id}", site.base);
        let offer = match (claim.state, rec.wallet.offer.as_ref()) {
            (ClaimState::Open, Some(o)) => {
                let uri = self.issuer.offer_uri(o);
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
        Ok(ClaimView {
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
