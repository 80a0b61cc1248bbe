pub mod app;
pub mod binary;
pub mod browser;
pub mod gates;
pub mod packs;
pub mod pg;

pub use app::{Agent, Backend, TestApp};

/// Run an async test body on SQLite and on PostgreSQL: `both_backends!(name);`
/// next to `async fn name(app: TestApp)` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await).await;
                }
            }
        )*
    };
}
