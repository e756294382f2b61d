//! A small W3C WebDriver client (https://www.w3.org/TR/webdriver2/) over plain HTTP/1.1,
//! enough to drive Parley's window through tauri-driver and WebKitWebDriver: find
//! elements by CSS, click, type, read text and attributes, press keys, run a script and
//! take screenshots.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::wait;

/// The key under which W3C WebDriver returns an element reference (§12.1).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Keys of the W3C key table (§17.4.2), to use in [`WebDriver::send_keys`].
pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const TAB: &str = "\u{E004}";
    pub const F2: &str = "\u{E032}";
    pub const F4: &str = "\u{E034}";
    pub const F5: &str = "\u{E035}";
}

/// A WebDriver error: the HTTP status and the `error` and `message` of the reply (§6.6).
#[derive(Debug, Clone)]
pub struct WebDriverError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error, self.message)
    }
}

/// What [`http`] says when the server closed the connection without a reply.
const NO_REPLY: &str = "closed without a reply";

/// An element of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(String);

/// A WebDriver session.
pub struct WebDriver {
    server: SocketAddr,
    session: String,
}

/// One HTTP request and its JSON reply.
fn http(
    server: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream =
        TcpStream::connect_timeout(&server, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    // Long enough for a slow page action on a loaded machine.
    stream
        .set_read_timeout(Some(wait::scaled(Duration::from_secs(60))))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|e| e.to_string())?;
    if status_line.is_empty() {
        return Err(NO_REPLY.to_owned());
    }
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP reply: {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            }
        }
    }
    let mut payload = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| format!("bad chunk size: {e}"))?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            payload.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        payload.resize(n, 0);
        reader.read_exact(&mut payload).map_err(|e| e.to_string())?;
    } else {
        reader
            .read_to_end(&mut payload)
            .map_err(|e| e.to_string())?;
    }
    let value = serde_json::from_slice(&payload).map_err(|e| {
        format!(
            "reply is not JSON ({e}): {}",
            String::from_utf8_lossy(&payload)
        )
    })?;
    Ok((status, value))
}

impl WebDriver {
    /// Opens a session with these capabilities (§8.1).
    pub fn new_session(
        server: SocketAddr,
        capabilities: Value,
    ) -> Result<WebDriver, WebDriverError> {
        let reply = Self::reply(http(
            server,
            "POST",
            "/session",
            Some(&json!({"capabilities": capabilities})),
        ))?;
        let session = reply["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError {
                status: 0,
                error: "no session id".into(),
                message: reply.to_string(),
            })?
            .to_owned();
        Ok(WebDriver { server, session })
    }

    fn reply(result: Result<(u16, Value), String>) -> Result<Value, WebDriverError> {
        let (status, body) = result.map_err(|message| WebDriverError {
            status: 0,
            error: "transport".into(),
            message,
        })?;
        let value = body.get("value").cloned().unwrap_or(Value::Null);
        if status >= 400 {
            return Err(WebDriverError {
                status,
                error: value["error"].as_str().unwrap_or_default().to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(value)
    }

    /// One command. tauri-driver forwards it to WebKitWebDriver over a pooled connection
    /// that WebKitWebDriver may have just closed (it answers `Connection: close`); the
    /// proxy then fails to send it and closes ours without a reply. Such a command never
    /// reached the browser and is sent again; any other failure (a late or broken reply,
    /// after which the browser may have acted) is not.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WebDriverError> {
        let path = format!("/session/{}{path}", self.session);
        let mut attempt = 0;
        loop {
            match Self::reply(http(self.server, method, &path, body.as_ref())) {
                Err(e) if e.message == NO_REPLY && attempt < 3 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// The first element matching a CSS selector, now (§12.3.2).
    pub fn find(&self, css: &str) -> Result<Element, WebDriverError> {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(Element(
            v[ELEMENT_KEY].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// Every element matching a CSS selector, now.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, WebDriverError> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits until an element matching `css` is there and displayed.
    #[track_caller]
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let mut last = None;
        wait::until(timeout, || {
            let found = self.find(css).ok()?;
            match self.call("GET", &format!("/element/{}/displayed", found.0), None) {
                Ok(Value::Bool(true)) => Some(found),
                other => {
                    last = Some(format!("{other:?}"));
                    None
                }
            }
        })
        .unwrap_or_else(|| panic!("no displayed element {css} within {timeout:?} ({last:?})"))
    }

    /// Waits until the attribute of the element matching `css` has `value`.
    #[track_caller]
    pub fn wait_attribute(&self, css: &str, name: &str, value: &str, timeout: Duration) -> Element {
        let mut seen = None;
        wait::until(timeout, || {
            let el = self.find(css).ok()?;
            let v = self.attribute(&el, name).ok()?;
            if v.as_deref() == Some(value) {
                Some(el)
            } else {
                seen = v;
                None
            }
        })
        .unwrap_or_else(|| {
            panic!("{css} [{name}] is not {value:?} within {timeout:?} (last {seen:?})")
        })
    }

    /// Waits until no element matches `css`.
    #[track_caller]
    pub fn wait_gone(&self, css: &str, timeout: Duration) {
        assert!(
            wait::until_true(timeout, || self.find_all(css).is_ok_and(|v| v.is_empty())),
            "{css} still there after {timeout:?}"
        );
    }

    /// Clicks the element matching `css` once it takes clicks: one in a dialog that is
    /// still opening or scrolling is refused as "element not interactable".
    #[track_caller]
    pub fn click_on(&self, css: &str, timeout: Duration) {
        let mut last = None;
        let clicked = wait::until_true(timeout, || match self.find(css) {
            Ok(element) => match self.click(&element) {
                Ok(()) => true,
                Err(e) => {
                    last = Some(e);
                    false
                }
            },
            Err(_) => false,
        });
        assert!(clicked, "cannot click {css} within {timeout:?} ({last:?})");
    }

    pub fn click(&self, element: &Element) -> Result<(), WebDriverError> {
        self.call(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .map(|_| ())
    }

    /// Types into an element (§12.5.3); special keys from [`keys`].
    pub fn send_keys(&self, element: &Element, text: &str) -> Result<(), WebDriverError> {
        self.call(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .map(|_| ())
    }

    pub fn clear(&self, element: &Element) -> Result<(), WebDriverError> {
        self.call(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .map(|_| ())
    }

    /// Presses keys wherever the focus is (§15, a key input source).
    pub fn press(&self, keys: &str) -> Result<(), WebDriverError> {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .map(|_| ())
    }

    /// The element that has the focus.
    pub fn active(&self) -> Result<Element, WebDriverError> {
        let v = self.call("GET", "/element/active", None)?;
        Ok(Element(
            v[ELEMENT_KEY].as_str().unwrap_or_default().to_owned(),
        ))
    }

    pub fn text(&self, element: &Element) -> Result<String, WebDriverError> {
        let v = self.call("GET", &format!("/element/{}/text", element.0), None)?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub fn attribute(
        &self,
        element: &Element,
        name: &str,
    ) -> Result<Option<String>, WebDriverError> {
        let v = self.call(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Runs a script in the page (§13.2.1) and returns its value.
    pub fn execute(&self, script: &str, args: Value) -> Result<Value, WebDriverError> {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// A PNG of the window (§17.1).
    pub fn screenshot(&self) -> Result<Vec<u8>, WebDriverError> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None)?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| WebDriverError {
                status: 0,
                error: "screenshot".into(),
                message: e.to_string(),
            })
    }

    /// Sets the window's size (§11.8.2).
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<(), WebDriverError> {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .map(|_| ())
    }

    /// Ends the session; tauri-driver then closes the app.
    pub fn quit(&self) -> Result<(), WebDriverError> {
        self.call("DELETE", "", None).map(|_| ())
    }
}
