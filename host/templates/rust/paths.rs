
impl PathsPolicy for {{type}} {
    fn render_path(request: PathRequest) -> Result<String, PolicyError> {
        // A path template set on the service or its runtime config wins: the default renders it.
        if request.path_template.is_some() {
            return defaults::render_path(&request);
        }
        let service = request.service()?;
        let Some(team) = service.label(TEAM_LABEL) else {
            return Err(reject(
                "NoTeam",
                format!("AIMService {} has no {TEAM_LABEL} label, so it has no place under /teams", service.name()),
            ));
        };
        Ok(format!(
            "/teams/{}/{}/{}",
            make_rfc1123_compliant(team),
            service.namespace(),
            service.name()
        ))
    }
}
