//! The WeCom (企业微信) group robot transport: the robot's markdown or text message for an
//! event, within the robot's size limits, and its answer, whose `errcode` is the verdict.

use std::time::Duration;

use serde_json::Value;

use super::deliver::SendError;
use super::event::{AlertEvent, Severity};
use super::target::WecomFormat;
use super::webhook::{http_err, HttpClient};

/// WeCom robots reject markdown content over 4096 bytes and text over 2048 bytes.
const WECOM_MARKDOWN_MAX: usize = 4096;
const WECOM_TEXT_MAX: usize = 2048;
/// The most of a WeCom answer read (it is `{"errcode":0,"errmsg":"ok"}`).
const WECOM_ANSWER_MAX: usize = 64 * 1024;

/// Delivers `ev` to a WeCom robot at `url`.
pub(super) async fn send(
    http: &HttpClient,
    url: &str,
    format: WecomFormat,
    mentioned: &[String],
    ev: &AlertEvent,
    limit: Duration,
) -> Result<(), SendError> {
    let msg = wecom_message(ev, format, mentioned);
    let body = serde_json::to_vec(&msg).map_err(SendError::Encode)?;
    let resp = http.post(url, body, limit).await?;
    let status = resp.status();
    if !status.is_success() {
        return Err(SendError::WecomStatus(status));
    }
    // WeCom's answer is a small JSON object; read no more than 64 KiB of it.
    let mut resp = resp;
    let mut text = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(http_err)? {
        if text.len() + chunk.len() > WECOM_ANSWER_MAX {
            return Err(SendError::WecomTooLong(WECOM_ANSWER_MAX));
        }
        text.extend_from_slice(&chunk);
    }
    // WeCom answers 200 even on errors; the verdict is errcode.
    if let Ok(v) = serde_json::from_slice::<Value>(&text) {
        if let Some(code) = v.get("errcode").and_then(Value::as_i64) {
            if code != 0 {
                let msg = v.get("errmsg").and_then(Value::as_str).unwrap_or("");
                return Err(SendError::Wecom {
                    code,
                    message: msg.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// The WeCom robot message for an event.
pub(crate) fn wecom_message(ev: &AlertEvent, format: WecomFormat, mentioned: &[String]) -> Value {
    let time = ev.time.format("%Y-%m-%d %H:%M:%S UTC");
    match format {
        WecomFormat::Markdown => {
            // WeCom markdown supports three font colours: info (green), comment (grey),
            // warning (orange).
            let colour = match ev.severity {
                Severity::Info => "info",
                Severity::Warning => "comment",
                Severity::Critical => "warning",
            };
            let content = format!(
                "**havip {vip}: {kind}**\n> severity: <font color=\"{colour}\">{sev}</font>\n> node: {node}\n> time: {time}\n\n{msg}",
                vip = ev.vip,
                kind = ev.kind,
                sev = ev.severity,
                node = ev.node,
                msg = ev.message,
            );
            serde_json::json!({
                "msgtype": "markdown",
                "markdown": { "content": truncate(&content, WECOM_MARKDOWN_MAX) },
            })
        }
        WecomFormat::Text => {
            let content = format!("{}\n{}\ntime: {time}", ev.title(), ev.message);
            serde_json::json!({
                "msgtype": "text",
                "text": {
                    "content": truncate(&content, WECOM_TEXT_MAX),
                    "mentioned_mobile_list": mentioned,
                },
            })
        }
    }
}

/// At most `max` bytes, cut at a character boundary, with an ellipsis when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;

    #[test]
    fn wecom_messages_have_the_robot_shapes() {
        let ev = AlertEvent::new(
            "iam",
            AlertKind::Switch,
            "ins-iam00021 now holds havip-iam00099",
        )
        .with_node("ins-iam00021");
        let md = wecom_message(&ev, WecomFormat::Markdown, &[]);
        assert_eq!(md["msgtype"], "markdown");
        let content = md["markdown"]["content"].as_str().unwrap();
        assert!(content.contains("**havip iam: switch**"), "{content}");
        assert!(
            content.contains("ins-iam00021 now holds havip-iam00099"),
            "{content}"
        );
        let txt = wecom_message(&ev, WecomFormat::Text, &["13800000000".to_owned()]);
        assert_eq!(txt["msgtype"], "text");
        assert_eq!(txt["text"]["mentioned_mobile_list"][0], "13800000000");

        let long = AlertEvent::new("iam", AlertKind::Failure, "é".repeat(5000));
        let md = wecom_message(&long, WecomFormat::Markdown, &[]);
        let c = md["markdown"]["content"].as_str().unwrap();
        assert!(c.len() <= WECOM_MARKDOWN_MAX && c.ends_with('…'));
        let t = wecom_message(&long, WecomFormat::Text, &[]);
        assert!(t["text"]["content"].as_str().unwrap().len() <= WECOM_TEXT_MAX);
    }
}
