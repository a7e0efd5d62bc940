//! A small command-line parser: `--flag value`, `--flag=value` and `--switch`.
//!
//! Every program declares the flags it takes; anything else (an unknown
//! flag, a positional argument, a missing or malformed value, a flag given
//! twice) prints the error and the usage to stderr and exits with code 2.
//! `--help` prints the usage to stdout and exits 0.

use std::fmt;
use std::process;
use std::str::FromStr;

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--flag value` or `--flag=value`.
    Value,
    /// `--flag`, without a value.
    Switch,
}

/// What a program accepts.
#[derive(Debug)]
pub struct Spec {
    /// The usage text, printed after errors and for `--help`.
    pub usage: &'static str,
    /// Every flag, with its leading `--`.
    pub flags: &'static [(&'static str, Kind)],
}

/// The flags given on a command line.
#[derive(Debug)]
pub struct Args {
    spec: &'static Spec,
    given: Vec<(&'static str, Option<String>)>,
}

/// Why a command line was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `--help` or `-h`: not an error, but no run either.
    Help,
    /// The command line is wrong; the message says how.
    Usage(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Help => f.write_str("help requested"),
            Self::Usage(message) => f.write_str(message),
        }
    }
}

impl Args {
    /// Parses the process's arguments, exiting on `--help` or an error.
    pub fn parse(spec: &'static Spec) -> Self {
        match Self::try_parse(spec, std::env::args().skip(1)) {
            Ok(args) => args,
            Err(ParseError::Help) => {
                println!("{}", spec.usage);
                process::exit(0);
            }
            Err(ParseError::Usage(message)) => usage_error(spec, &message),
        }
    }

    /// Parses `args` (without the program name) against `spec`.
    pub fn try_parse(
        spec: &'static Spec,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, ParseError> {
        let mut given: Vec<(&'static str, Option<String>)> = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(ParseError::Help);
            }
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let Some(&(flag, kind)) = spec.flags.iter().find(|(flag, _)| *flag == name) else {
                let what = if name.starts_with('-') {
                    "unknown flag"
                } else {
                    "unexpected argument"
                };
                return Err(ParseError::Usage(format!("{what} {name}")));
            };
            if given.iter().any(|(seen, _)| *seen == flag) {
                return Err(ParseError::Usage(format!("{flag} given twice")));
            }
            let value = match (kind, inline) {
                (Kind::Switch, None) => None,
                (Kind::Switch, Some(_)) => {
                    return Err(ParseError::Usage(format!("{flag} takes no value")));
                }
                (Kind::Value, Some(value)) => Some(value),
                (Kind::Value, None) => match args.next() {
                    Some(value) if !value.starts_with("--") => Some(value),
                    _ => return Err(ParseError::Usage(format!("{flag} needs a value"))),
                },
            };
            given.push((flag, value));
        }
        Ok(Self { spec, given })
    }

    /// Whether `flag` was given.
    pub fn has(&self, flag: &str) -> bool {
        self.given.iter().any(|(seen, _)| *seen == flag)
    }

    /// The value of `flag`, if it was given.
    pub fn value(&self, flag: &str) -> Option<&str> {
        self.given
            .iter()
            .find(|(seen, _)| *seen == flag)
            .and_then(|(_, value)| value.as_deref())
    }

    /// The value of a flag that must be given, or a usage error.
    pub fn required(&self, flag: &str) -> &str {
        match self.value(flag) {
            Some(value) => value,
            None => self.fail(&format!("{flag} is required")),
        }
    }

    /// The value of `flag` parsed as a `T`, `default` if it is absent, or a
    /// usage error if it does not parse.
    pub fn parsed<T: FromStr>(&self, flag: &str, default: T) -> T {
        match self.value(flag) {
            None => default,
            Some(text) => text
                .parse()
                .unwrap_or_else(|_| self.fail(&format!("{flag}: cannot parse {text:?}"))),
        }
    }

    /// A byte count: digits with an optional binary suffix `K`, `M` or `G`
    /// (KiB, MiB, GiB); `default` if absent, a usage error if malformed.
    pub fn size(&self, flag: &str, default: u64) -> u64 {
        match self.value(flag) {
            None => default,
            Some(text) => parse_size(text)
                .unwrap_or_else(|| self.fail(&format!("{flag}: not a byte count: {text:?}"))),
        }
    }

    /// Reports a usage error and exits with code 2.
    pub fn fail(&self, message: &str) -> ! {
        usage_error(self.spec, message)
    }
}

/// Parses `123`, `64K`, `10M` or `1G` (binary multiples).
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, multiplier) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1 << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        b'G' | b'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

fn usage_error(spec: &Spec, message: &str) -> ! {
    eprintln!("error: {message}\n\n{}", spec.usage);
    process::exit(2);
}
