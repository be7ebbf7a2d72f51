//! A loopback HTTP server that records what it is sent and answers every request the same way:
//! the alert tests' webhook and WeCom receiver, `havip check`'s probe target, and a canned API
//! server for behaviour tcsim does not show on demand (a `Date` that stays wrong, a long 502).
//!
//! Plain std threads, so it serves both async tests and tests that run the real binary.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::{read_message, Message, Side};

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Respond {
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Read the request, then hold the connection open without answering.
    Hang,
}

impl Behaviour {
    pub fn ok(body: &str) -> Self {
        Behaviour::respond(200, body)
    }

    pub fn status(status: u16) -> Self {
        Behaviour::respond(status, "")
    }

    pub fn respond(status: u16, body: &str) -> Self {
        Behaviour::Respond {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    /// Adds a response header (with [`Behaviour::Respond`]).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Behaviour::Respond { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// With the query string.
    pub path: String,
    pub message: Message,
}

impl Request {
    pub fn body(&self) -> &[u8] {
        &self.message.body
    }

    /// The request line and headers as received (`\r\n` line ends).
    pub fn head(&self) -> &str {
        &self.message.head
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.message.header(name)
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body()).expect("request body is JSON")
    }
}

pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`, for webhook targets.
    pub url: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 with an ephemeral port; a thread per connection.
    pub fn start(behaviour: Behaviour) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let recorded = Arc::clone(&recorded);
                let behaviour = behaviour.clone();
                std::thread::spawn(move || serve(stream, &behaviour, &recorded));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            requests,
        }
    }

    /// `http://127.0.0.1:PORT`, for an API endpoint.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits up to `limit` for at least `n` requests (the sender has already returned in most
    /// tests; this only covers the thread that records them).
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Request> {
        let end = Instant::now() + limit;
        loop {
            let r = self.requests();
            if r.len() >= n || Instant::now() > end {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(stream: TcpStream, behaviour: &Behaviour, recorded: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let Ok(message) = read_message(&mut BufReader::new(read_half), Side::Request) else {
        return;
    };
    let mut words = message.start_line().split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let path = words.next().unwrap_or("").to_owned();
    recorded
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Request {
            method,
            path,
            message,
        });
    match behaviour {
        Behaviour::Respond {
            status,
            headers,
            body,
        } => {
            let mut extra = String::new();
            for (k, v) in headers {
                extra.push_str(&format!("{k}: {v}\r\n"));
            }
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
                body.len()
            );
            let _ = s.flush();
        }
        Behaviour::Hang => {
            // Hold the connection; the process ends the thread when the test is over.
            std::thread::sleep(Duration::from_secs(120));
            drop(stream);
        }
    }
}

/// A loopback port with nothing listening: bind, note the port, close.
pub fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().expect("local addr").port()
}
