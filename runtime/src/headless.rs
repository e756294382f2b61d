//! The headless JSON-lines protocol (docs/headless.md): commands from a reader (stdin),
//! events to a writer (stdout), one JSON object per line.

use crate::engine::AgentHandle;
use crate::protocol::{Command, Event};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// An input line that is not a valid command.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub id: Option<serde_json::Value>,
    pub message: String,
}

impl LineError {
    /// The `result` event answering the line.
    pub fn into_event(self) -> Event {
        Event::Result {
            id: self.id,
            ok: false,
            call: None,
            error: Some("invalid_command".into()),
            message: Some(self.message),
            colleagues: None,
        }
    }
}

/// Parses one input line into an optional id and a command.
pub fn parse_line(line: &str) -> Result<(Option<serde_json::Value>, Command), LineError> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(|e| LineError {
        id: None,
        message: format!("not JSON: {e}"),
    })?;
    let id = value.as_object_mut().and_then(|o| o.remove("id"));
    let command = serde_json::from_value(value).map_err(|e| LineError {
        id: id.clone(),
        message: e.to_string(),
    })?;
    Ok((id, command))
}

/// Runs the protocol until the agent stops. End of input means `quit`.
pub async fn serve<R, W>(
    agent: AgentHandle,
    mut events: mpsc::UnboundedReceiver<Event>,
    input: R,
    mut output: W,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let (error_tx, mut error_rx) = mpsc::unbounded_channel::<Event>();
    let reader_agent = agent.clone();
    tokio::spawn(async move {
        let mut lines = input.lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(&line) {
                Ok((id, command)) => {
                    if !reader_agent.send(id, command) {
                        return;
                    }
                }
                Err(error) => {
                    let _ = error_tx.send(error.into_event());
                }
            }
        }
        reader_agent.send(None, Command::Quit);
    });
    loop {
        let event = tokio::select! {
            Some(e) = events.recv() => e,
            Some(e) = error_rx.recv() => e,
            else => break,
        };
        let stopped = event == Event::Stopped;
        let mut line = serde_json::to_vec(&event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        output.write_all(&line).await?;
        output.flush().await?;
        if stopped {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_ids_and_errors() {
        let (id, cmd) = parse_line(r#"{"id": 7, "cmd": "hangup", "call": "c2"}"#).unwrap();
        assert_eq!(id, Some(serde_json::json!(7)));
        assert_eq!(cmd, Command::Hangup { call: "c2".into() });
        let error = parse_line(r#"{"id": "a", "cmd": "fly"}"#).unwrap_err();
        assert_eq!(error.id, Some(serde_json::json!("a")));
        assert!(
            matches!(error.into_event(), Event::Result { ok: false, error: Some(e), .. } if e == "invalid_command")
        );
        assert!(parse_line("{not json").is_err());
    }
}
