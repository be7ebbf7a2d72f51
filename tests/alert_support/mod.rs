//! A tiny loopback HTTP receiver for the alert and check tests: records what it is sent and
//! answers with a fixed status and body, or hangs (accepts and never answers).
//!
//! Plain std threads, so it serves both async tests and tests that run the real binary.

#![allow(dead_code)] // each test binary uses a different part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Respond {
        status: u16,
        body: String,
    },
    /// Read the request, then hold the connection open without answering.
    Hang,
}

impl Behaviour {
    pub fn ok(body: &str) -> Self {
        Behaviour::Respond {
            status: 200,
            body: body.to_owned(),
        }
    }
    pub fn status(status: u16) -> Self {
        Behaviour::Respond {
            status,
            body: String::new(),
        }
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Receiver {
    pub url: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 with an ephemeral port.
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

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    /// Waits up to `limit` for at least `n` requests (the sender has already returned in most
    /// tests; this only covers the thread that records them).
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Request> {
        let end = std::time::Instant::now() + limit;
        loop {
            let r = self.requests();
            if r.len() >= n || std::time::Instant::now() > end {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(stream: TcpStream, behaviour: &Behaviour, recorded: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
            if k.eq_ignore_ascii_case("content-length") {
                len = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    recorded.lock().expect("lock").push(Request {
        method,
        path,
        headers,
        body,
    });
    match behaviour {
        Behaviour::Respond { status, body } => {
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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
