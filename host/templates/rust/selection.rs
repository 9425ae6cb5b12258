
impl SelectionPolicy for {{type}} {
    fn select_template(request: SelectionRequest) -> Result<Selection, PolicyError> {
        // Overrides name what the service wants; the default policy honours them.
        if request.overrides.is_some() {
            return defaults::select_template(&request);
        }
        let available = |model: &str| {
            request
                .available_gpu_models
                .iter()
                .any(|gpu| gpu.eq_ignore_ascii_case(model))
        };
        let runnable: Vec<(usize, u32)> = request
            .candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.status == "Ready" && !c.derived)
            .filter(|(_, c)| c.gpu_model.as_deref().is_some_and(available))
            .map(|(index, c)| (index, c.gpu_count.unwrap_or(1)))
            .collect();
        let fewest = runnable.iter().map(|(_, gpus)| *gpus).min();
        let cheapest: Vec<usize> = runnable
            .iter()
            .filter(|(_, gpus)| Some(*gpus) == fewest)
            .map(|(index, _)| *index)
            .collect();
        match cheapest[..] {
            [index] => Ok(Selection {
                index: Some(index as u32),
                name: Some(request.candidates[index].name.clone()),
                count: 1,
                reason: SelectionReason::Selected,
            }),
            // None, or a tie: the default policy ranks them (and says why nothing fits).
            _ => defaults::select_template(&request),
        }
    }
}
