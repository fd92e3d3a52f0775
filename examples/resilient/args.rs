//! Command-line options.

use std::time::Duration;

use connectrpc::ClientConfig;

/// The wire protocol.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Protocol {
    Connect,
    Grpc,
    GrpcWeb,
}

impl Protocol {
    /// `config` speaking this protocol.
    pub(crate) fn config(self, config: ClientConfig) -> ClientConfig {
        match self {
            Protocol::Connect => config,
            Protocol::Grpc => config.grpc(),
            Protocol::GrpcWeb => config.grpc_web(),
        }
    }
}

/// Which method the load calls.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Method {
    /// `Greet`: unary, `NO_SIDE_EFFECTS`.
    Greet,
    /// `GreetMany`: a client stream of three, not idempotent.
    GreetMany,
}

/// When the load stops.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Until {
    Calls(u64),
    Duration(Duration),
}

/// The parsed options.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) endpoints: Vec<http::Uri>,
    /// The logical target: the first endpoint's scheme and authority.
    pub(crate) target: http::Uri,
    pub(crate) protocol: Protocol,
    pub(crate) until: Until,
    pub(crate) concurrency: usize,
    pub(crate) deadline: Duration,
    pub(crate) method: Method,
    pub(crate) hedge: Option<Duration>,
    pub(crate) retry: bool,
    /// Print `progress {"t_s":…,"by_endpoint":{…}}` to stderr this often.
    pub(crate) progress: Option<Duration>,
}

fn value(name: &str, v: Option<String>) -> Result<String, String> {
    v.ok_or_else(|| format!("{name} needs a value"))
}

fn number<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<T, String> {
    let v = value(name, v)?;
    v.parse().map_err(|_| format!("{name}: not a number: {v}"))
}

impl Args {
    /// Parses the options (program name excluded).
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut endpoints = Vec::new();
        let mut protocol = Protocol::Connect;
        let mut until = None;
        let mut concurrency = 1;
        let mut deadline = Duration::from_millis(5000);
        let mut method = Method::Greet;
        let mut hedge = None;
        let mut retry = true;
        let mut progress = None;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--endpoints" => {
                    for e in value(&arg, args.next())?
                        .split(',')
                        .filter(|e| !e.is_empty())
                    {
                        let uri: http::Uri = e.parse().map_err(|err| format!("{e}: {err}"))?;
                        if uri.authority().is_none() {
                            return Err(format!("{e}: no host:port"));
                        }
                        endpoints.push(uri);
                    }
                }
                "--protocol" => {
                    protocol = match value(&arg, args.next())?.as_str() {
                        "connect" => Protocol::Connect,
                        "grpc" => Protocol::Grpc,
                        "grpc-web" => Protocol::GrpcWeb,
                        other => {
                            return Err(format!(
                                "--protocol: connect, grpc or grpc-web, not {other}"
                            ));
                        }
                    }
                }
                "--calls" => until = Some(Until::Calls(number(&arg, args.next())?)),
                "--duration-s" => {
                    let s: f64 = number(&arg, args.next())?;
                    if !(s.is_finite() && s > 0.0) {
                        return Err("--duration-s must be positive".into());
                    }
                    until = Some(Until::Duration(Duration::from_secs_f64(s)));
                }
                "--concurrency" => concurrency = number(&arg, args.next())?,
                "--deadline-ms" => deadline = Duration::from_millis(number(&arg, args.next())?),
                "--method" => {
                    method = match value(&arg, args.next())?.as_str() {
                        "greet" => Method::Greet,
                        "greet-many" => Method::GreetMany,
                        other => return Err(format!("--method: greet or greet-many, not {other}")),
                    }
                }
                "--hedge-ms" => hedge = Some(Duration::from_millis(number(&arg, args.next())?)),
                "--no-retry" => retry = false,
                "--progress-ms" => {
                    let ms: u64 = number(&arg, args.next())?;
                    progress = Some(Duration::from_millis(ms.max(10)));
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        let Some(first) = endpoints.first() else {
            return Err("--endpoints is required".into());
        };
        let target = first.clone();
        let until = until.ok_or("one of --calls or --duration-s is required")?;
        if concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        Ok(Args {
            endpoints,
            target,
            protocol,
            until,
            concurrency,
            deadline,
            method,
            hedge,
            retry,
            progress,
        })
    }
}
