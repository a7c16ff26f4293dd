//! The browser's login prompt, answered over WebDriver BiDi: the session's
//! `network.authRequired` events are intercepted, and each is answered with
//! the next of the planned answers (cancel, or a user name and password), as
//! a person at the prompt would.
//!
//! A click that leads to a prompt goes over BiDi too, and so does the wait
//! for the page it loads (`click_and_wait`): while a classic command waits
//! for a navigation, chromedriver holds back BiDi commands, so the answer to
//! a prompt that navigation is blocked on would never go through.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// What the person at the prompt does.
#[derive(Debug, Clone)]
pub enum Answer {
    Cancel,
    LogIn { user: String, password: String },
}

/// One prompt the browser showed, for a URL. (Chromium's event carries
/// neither the status nor the challenge: that it prompts at all shows it
/// understood the `401`'s `WWW-Authenticate`.)
#[derive(Debug)]
pub struct Prompt {
    pub url: String,
}

pub struct LoginPrompts {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    /// Commands the browser refused.
    errors: Arc<Mutex<Vec<String>>>,
    prompts: mpsc::UnboundedReceiver<Prompt>,
    /// The URLs of the pages loaded, in order (`browsingContext.load`).
    loads: mpsc::UnboundedReceiver<String>,
    commands: mpsc::UnboundedSender<(&'static str, Value)>,
    task: tokio::task::JoinHandle<()>,
}

impl LoginPrompts {
    /// Connects to the session's BiDi socket (the `webSocketUrl` its
    /// capabilities returned) and intercepts login prompts from now on.
    pub async fn intercept(web_socket_url: &str) -> LoginPrompts {
        let (socket, _) = tokio_tungstenite::connect_async(web_socket_url)
            .await
            .expect("the BiDi socket opens");
        let (mut sink, mut stream) = socket.split();
        let answers = Arc::new(Mutex::new(VecDeque::<Answer>::new()));
        let (prompt_tx, prompts) = mpsc::unbounded_channel();
        let (load_tx, loads) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (commands, mut to_send) = mpsc::unbounded_channel::<(&'static str, Value)>();
        let plan = answers.clone();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let refused = errors.clone();
        let task = tokio::spawn(async move {
            let mut send = async |id: u64, method: &str, params: Value| {
                let command = json!({ "id": id, "method": method, "params": params });
                sink.send(Message::text(command.to_string())).await.unwrap();
            };
            send(
                1,
                "session.subscribe",
                json!({ "events": ["network.authRequired", "browsingContext.load"] }),
            )
            .await;
            send(
                2,
                "network.addIntercept",
                json!({ "phases": ["authRequired"] }),
            )
            .await;
            let mut ready = Some(ready_tx);
            let mut next_id = 3;
            loop {
                let message = tokio::select! {
                    message = stream.next() => message,
                    Some((method, params)) = to_send.recv() => {
                        send(next_id, method, params).await;
                        next_id += 1;
                        continue;
                    }
                };
                let Some(Ok(Message::Text(text))) = message else {
                    break;
                };
                let message: Value = serde_json::from_str(&text).unwrap();
                match message["type"].as_str() {
                    Some("error") => refused.lock().unwrap().push(message.to_string()),
                    Some("success") if message["id"] == 2 => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    Some("event") if message["method"] == "browsingContext.load" => {
                        let url = message["params"]["url"].as_str().unwrap_or("").to_owned();
                        let _ = load_tx.send(url);
                    }
                    Some("event") if message["method"] == "network.authRequired" => {
                        let params = &message["params"];
                        let request = params["request"]["request"].clone();
                        let url = params["request"]["url"].as_str().unwrap_or("").to_owned();
                        let _ = prompt_tx.send(Prompt { url });
                        let answer = plan.lock().unwrap().pop_front().unwrap_or(Answer::Cancel);
                        let params = match answer {
                            Answer::Cancel => json!({ "request": request, "action": "cancel" }),
                            Answer::LogIn { user, password } => json!({
                                "request": request,
                                "action": "provideCredentials",
                                "credentials": {
                                    "type": "password",
                                    "username": user,
                                    "password": password,
                                },
                            }),
                        };
                        send(next_id, "network.continueWithAuth", params).await;
                        next_id += 1;
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(std::time::Duration::from_secs(10), ready_rx)
            .await
            .expect("BiDi answers within 10 s")
            .unwrap_or_else(|_| panic!("no interception: {:?}", errors.lock().unwrap()));
        LoginPrompts {
            answers,
            errors,
            prompts,
            loads,
            commands,
            task,
        }
    }

    /// The answers to the next prompts, in order (more prompts: cancelled).
    pub fn plan(&self, answers: impl IntoIterator<Item = Answer>) {
        let mut planned = self.answers.lock().unwrap();
        planned.clear();
        planned.extend(answers);
    }

    /// Clicks the element `css` selects in the browsing context `context`
    /// (chromedriver's window handle), the prompts it brings up answered as
    /// planned, and returns the URL of the page that then loads.
    pub async fn click_and_wait(&mut self, context: &str, css: &str) -> String {
        while self.loads.try_recv().is_ok() {}
        let expression = format!("document.querySelector({}).click()", json!(css));
        let params = json!({
            "expression": expression,
            "target": { "context": context },
            "awaitPromise": false,
        });
        self.commands.send(("script.evaluate", params)).unwrap();
        let loaded = tokio::time::timeout(std::time::Duration::from_secs(30), self.loads.recv());
        let errors = &self.errors;
        loaded
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no page loaded in 30 s; BiDi errors: {:?}",
                    errors.lock().unwrap()
                )
            })
            .expect("the BiDi socket is open")
    }

    /// The prompts shown since the last call.
    pub fn shown(&mut self) -> Vec<Prompt> {
        let errors = self.errors.lock().unwrap();
        assert!(errors.is_empty(), "BiDi refused commands: {errors:?}");
        let mut shown = Vec::new();
        while let Ok(prompt) = self.prompts.try_recv() {
            shown.push(prompt);
        }
        shown
    }
}

impl Drop for LoginPrompts {
    fn drop(&mut self) {
        self.task.abort();
    }
}
